//! Shared test harness: a real broker started in-process on 127.0.0.1:0 with a temp data
//! directory, a raw protocol client, and rdkafka client configs pointed at the broker.
#![allow(dead_code)]

pub mod group;
pub mod members;
pub mod process;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use gregor::config::Config;
use gregor::log::{FileSystem, StdFileSystem};
use gregor::node::RunningBroker;
use gregor::properties::Properties;
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A broker under test and the directory it owns. The broker runs on its own multi-threaded
/// runtime, so a test may block (rdkafka's `poll`, `fetch_metadata`) without stalling it.
pub struct TestBroker {
    /// The broker's runtime; shut down in the background on drop.
    rt: Option<tokio::runtime::Runtime>,
    /// The running broker; `None` after `stop`.
    pub running: Option<RunningBroker>,
    /// Bound address.
    pub addr: SocketAddr,
    /// Temp data directory (removed on drop unless `keep` was taken).
    pub dir: tempfile::TempDir,
    /// Extra server.properties keys used at start and restart.
    pub props: Vec<(String, String)>,
    /// The file system the logs are written through (kept across restarts).
    pub fs: Arc<dyn FileSystem>,
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

pub fn config_for(dir: &Path, props: &[(String, String)], listen: &str) -> Config {
    let mut p = Properties::new();
    p.insert("listeners".into(), listen.into());
    p.insert("log.dirs".into(), dir.display().to_string());
    // Tests that want the admin endpoint ask for one (on port 0).
    p.insert("gregor.admin.listener".into(), "off".into());
    for (k, v) in props {
        p.insert(k.clone(), v.clone());
    }
    Config::from_properties(p).expect("valid test config")
}

impl TestBroker {
    pub async fn start(props: &[(&str, &str)]) -> TestBroker {
        Self::start_with_fs(props, Arc::new(StdFileSystem)).await
    }

    /// A broker whose logs are written through `fs` (to inject I/O errors).
    pub async fn start_with_fs(props: &[(&str, &str)], fs: Arc<dyn FileSystem>) -> TestBroker {
        init_tracing();
        let dir = tempfile::tempdir().expect("tempdir");
        let props: Vec<(String, String)> = props
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let running = rt
            .spawn(gregor::node::start_with_fs(
                config_for(dir.path(), &props, "127.0.0.1:0"),
                fs.clone(),
            ))
            .await
            .expect("start task")
            .expect("broker starts");
        TestBroker {
            rt: Some(rt),
            addr: running.addr,
            running: Some(running),
            dir,
            props,
            fs,
        }
    }

    /// The running broker's cluster state.
    pub fn cluster(&self) -> &std::sync::Arc<gregor::cluster::Cluster> {
        &self.running.as_ref().expect("running").cluster
    }

    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Clean stop (flush + marker).
    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            self.rt().spawn(r.shutdown()).await.expect("shutdown task");
        }
    }

    /// Clean stop, then start again on the same port and data directory.
    pub async fn restart(&mut self) {
        let listen = self.addr.to_string();
        self.restart_on(&listen).await;
    }

    /// Clean stop, then start again on the same data directory, listening on `listen`
    /// (`127.0.0.1:0` for any free ports: several virtual brokers need consecutive ones).
    pub async fn restart_on(&mut self, listen: &str) {
        self.stop().await;
        let running = self
            .rt()
            .spawn(gregor::node::start_with_fs(
                config_for(self.dir.path(), &self.props, listen),
                self.fs.clone(),
            ))
            .await
            .expect("start task")
            .expect("broker restarts");
        self.addr = running.addr;
        self.running = Some(running);
    }

    fn rt(&self) -> &tokio::runtime::Runtime {
        self.rt.as_ref().expect("runtime")
    }

    pub fn client_config(&self) -> rdkafka::ClientConfig {
        let mut c = rdkafka::ClientConfig::new();
        c.set("bootstrap.servers", self.bootstrap());
        c.set("broker.address.family", "v4");
        c
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// A raw Kafka protocol client over one TCP connection.
pub struct RawClient {
    pub stream: TcpStream,
    next_correlation: i32,
}

impl RawClient {
    pub async fn connect(addr: SocketAddr) -> RawClient {
        RawClient {
            stream: TcpStream::connect(addr).await.expect("connect"),
            next_correlation: 1,
        }
    }

    /// Sends a request at `version` and returns the decoded response.
    pub async fn call(&mut self, req: RequestKind, version: i16) -> ResponseKind {
        let key = api_key_of(&req);
        let frame = encode_request(&req, key, version, self.next_correlation);
        self.next_correlation += 1;
        self.stream.write_all(&frame).await.expect("write");
        let (header, mut body) = self
            .read_frame(key.response_header_version(version))
            .await
            .expect("response");
        assert_eq!(header.correlation_id, self.next_correlation - 1);
        ResponseKind::decode(key, &mut body, version).expect("decodes")
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Reads one response frame; `None` when the broker closed the connection.
    pub async fn read_frame(&mut self, header_version: i16) -> Option<(ResponseHeader, Bytes)> {
        let mut len = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(10), self.stream.read_exact(&mut len))
            .await
            .expect("no answer within 10s")
            .ok()?;
        let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut body).await.ok()?;
        let mut b = Bytes::from(body);
        let header = ResponseHeader::decode(&mut b, header_version).ok()?;
        Some((header, b))
    }

    /// True when the broker has closed the connection (reads EOF within 10 s).
    pub async fn is_closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(
            tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut b)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

pub fn encode_request(
    req: &RequestKind,
    key: ApiKey,
    version: i16,
    correlation_id: i32,
) -> BytesMut {
    let mut b = BytesMut::new();
    b.put_i32(0);
    RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("raw-test")))
        .encode(&mut b, key.request_header_version(version))
        .unwrap();
    req.encode(&mut b, version).unwrap();
    let len = (b.len() - 4) as i32;
    b[..4].copy_from_slice(&len.to_be_bytes());
    b
}

pub fn api_key_of(req: &RequestKind) -> ApiKey {
    use RequestKind as R;
    match req {
        R::Produce(_) => ApiKey::Produce,
        R::Fetch(_) => ApiKey::Fetch,
        R::ListOffsets(_) => ApiKey::ListOffsets,
        R::Metadata(_) => ApiKey::Metadata,
        R::ApiVersions(_) => ApiKey::ApiVersions,
        R::CreateTopics(_) => ApiKey::CreateTopics,
        R::DeleteTopics(_) => ApiKey::DeleteTopics,
        R::DeleteRecords(_) => ApiKey::DeleteRecords,
        R::OffsetForLeaderEpoch(_) => ApiKey::OffsetForLeaderEpoch,
        R::DescribeConfigs(_) => ApiKey::DescribeConfigs,
        R::AlterConfigs(_) => ApiKey::AlterConfigs,
        R::CreatePartitions(_) => ApiKey::CreatePartitions,
        R::IncrementalAlterConfigs(_) => ApiKey::IncrementalAlterConfigs,
        R::DescribeCluster(_) => ApiKey::DescribeCluster,
        R::InitProducerId(_) => ApiKey::InitProducerId,
        R::FindCoordinator(_) => ApiKey::FindCoordinator,
        R::JoinGroup(_) => ApiKey::JoinGroup,
        R::SyncGroup(_) => ApiKey::SyncGroup,
        R::Heartbeat(_) => ApiKey::Heartbeat,
        R::LeaveGroup(_) => ApiKey::LeaveGroup,
        R::OffsetCommit(_) => ApiKey::OffsetCommit,
        R::OffsetFetch(_) => ApiKey::OffsetFetch,
        R::ListGroups(_) => ApiKey::ListGroups,
        R::DescribeGroups(_) => ApiKey::DescribeGroups,
        R::DeleteGroups(_) => ApiKey::DeleteGroups,
        R::OffsetDelete(_) => ApiKey::OffsetDelete,
        R::DescribeAcls(_) => ApiKey::DescribeAcls,
        R::CreateAcls(_) => ApiKey::CreateAcls,
        R::DeleteAcls(_) => ApiKey::DeleteAcls,
        R::DescribeLogDirs(_) => ApiKey::DescribeLogDirs,
        R::ElectLeaders(_) => ApiKey::ElectLeaders,
        R::AlterPartitionReassignments(_) => ApiKey::AlterPartitionReassignments,
        R::ListPartitionReassignments(_) => ApiKey::ListPartitionReassignments,
        R::DescribeClientQuotas(_) => ApiKey::DescribeClientQuotas,
        R::DescribeQuorum(_) => ApiKey::DescribeQuorum,
        R::DescribeProducers(_) => ApiKey::DescribeProducers,
        R::DescribeTransactions(_) => ApiKey::DescribeTransactions,
        R::ListTransactions(_) => ApiKey::ListTransactions,
        R::DescribeTopicPartitions(_) => ApiKey::DescribeTopicPartitions,
        R::AddPartitionsToTxn(_) => ApiKey::AddPartitionsToTxn,
        R::AddOffsetsToTxn(_) => ApiKey::AddOffsetsToTxn,
        R::EndTxn(_) => ApiKey::EndTxn,
        R::WriteTxnMarkers(_) => ApiKey::WriteTxnMarkers,
        R::TxnOffsetCommit(_) => ApiKey::TxnOffsetCommit,
        R::ConsumerGroupHeartbeat(_) => ApiKey::ConsumerGroupHeartbeat,
        R::ConsumerGroupDescribe(_) => ApiKey::ConsumerGroupDescribe,
        other => panic!("test helper does not know {other:?}"),
    }
}

/// A frame: length prefix + bytes.
pub fn framed(body: &[u8]) -> Vec<u8> {
    let mut v = (body.len() as i32).to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

/// Reads an i16 error code at a known place; helper for hand-built answers.
pub fn read_i16(b: &mut Bytes) -> i16 {
    b.get_i16()
}

/// Encodes one uncompressed v2 batch of `n` records (`value-i`), with an optional producer id,
/// epoch and first sequence.
pub fn record_batch(n: usize, producer: Option<(i64, i16, i32)>) -> Bytes {
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };
    let (pid, epoch, seq) = producer.unwrap_or((-1, -1, -1));
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The crate's encoder keeps records in one batch while offset - sequence is
            // constant; the batch's base sequence is the first record's (-1 = none).
            sequence: seq.wrapping_add(i as i32),
            timestamp: 1_700_000_000_000 + i as i64,
            key: Some(Bytes::from(format!("key-{i}"))),
            value: Some(Bytes::from(format!("value-{i}"))),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encode batch");
    buf.freeze()
}

/// Metadata for `topic` with auto-creation allowed, as clients do before producing (Produce
/// itself never creates a topic).
pub async fn ensure_topic(c: &mut RawClient, topic: &str) {
    use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
    use kafka_protocol::messages::{MetadataRequest, TopicName};
    let req = MetadataRequest::default()
        .with_topics(Some(vec![MetadataRequestTopic::default().with_name(Some(
            TopicName(StrBytes::from_string(topic.to_string())),
        ))]))
        .with_allow_auto_topic_creation(true);
    let _ = c.call(RequestKind::Metadata(req), 12).await;
}

/// One produce partition result: (error code, base offset). The topic is created first if
/// it is missing.
pub async fn produce_raw(
    c: &mut RawClient,
    topic: &str,
    partition: i32,
    records: Bytes,
) -> (i16, i64) {
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{ProduceRequest, TopicName};
    ensure_topic(c, topic).await;
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_string())))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(records))])]);
    match c.call(RequestKind::Produce(req), 9).await {
        ResponseKind::Produce(r) => {
            let p = &r.responses[0].partition_responses[0];
            (p.error_code, p.base_offset)
        }
        other => panic!("{other:?}"),
    }
}

/// The log end offset of a partition via ListOffsets(latest).
pub async fn end_offset(c: &mut RawClient, topic: &str, partition: i32) -> i64 {
    use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
    use kafka_protocol::messages::{ListOffsetsRequest, TopicName};
    let req = ListOffsetsRequest::default().with_topics(vec![ListOffsetsTopic::default()
        .with_name(TopicName(StrBytes::from_string(topic.to_string())))
        .with_partitions(vec![ListOffsetsPartition::default()
            .with_partition_index(partition)
            .with_timestamp(-1)])]);
    match c.call(RequestKind::ListOffsets(req), 7).await {
        ResponseKind::ListOffsets(r) => {
            let p = &r.topics[0].partitions[0];
            assert_eq!(p.error_code, 0);
            p.offset
        }
        other => panic!("{other:?}"),
    }
}
