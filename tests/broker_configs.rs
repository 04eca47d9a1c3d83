//! Dynamic broker configs over the wire: IncrementalAlterConfigs and AlterConfigs on the
//! broker resource (this broker and the cluster default), what DescribeConfigs then reports
//! (sources and synonyms as Kafka 4.4 lists them), the refusals Kafka gives, the effect on
//! topics without their own override, and persistence across a restart.

mod common;

use common::{produce_raw, record_batch, RawClient, TestBroker};
use kafka_protocol::messages::describe_configs_response::DescribeConfigsResourceResult;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{
    describe_configs_request, DescribeConfigsRequest, IncrementalAlterConfigsRequest, RequestKind,
    ResponseKind,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// One IncrementalAlterConfigs on a broker entity ("" = cluster default): (error, message).
async fn alter(c: &mut RawClient, entity: &str, ops: &[(&str, i8, Option<&str>)]) -> (i16, String) {
    let req = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(4)
            .with_resource_name(s(entity))
            .with_configs(
                ops.iter()
                    .map(|(k, op, v)| {
                        AlterableConfig::default()
                            .with_name(s(k))
                            .with_config_operation(*op)
                            .with_value(v.map(s))
                    })
                    .collect(),
            ),
    ]);
    match c.call(RequestKind::IncrementalAlterConfigs(req), 1).await {
        ResponseKind::IncrementalAlterConfigs(r) => (
            r.responses[0].error_code,
            r.responses[0]
                .error_message
                .as_deref()
                .unwrap_or("")
                .to_string(),
        ),
        other => panic!("{other:?}"),
    }
}

/// DescribeConfigs (with synonyms) of one resource.
async fn describe(c: &mut RawClient, kind: i8, name: &str) -> Vec<DescribeConfigsResourceResult> {
    let req = DescribeConfigsRequest::default()
        .with_include_synonyms(true)
        .with_resources(vec![
            describe_configs_request::DescribeConfigsResource::default()
                .with_resource_type(kind)
                .with_resource_name(s(name)),
        ]);
    match c.call(RequestKind::DescribeConfigs(req), 4).await {
        ResponseKind::DescribeConfigs(mut r) => {
            assert_eq!(
                r.results[0].error_code, 0,
                "{:?}",
                r.results[0].error_message
            );
            r.results.remove(0).configs
        }
        other => panic!("{other:?}"),
    }
}

fn entry<'a>(
    configs: &'a [DescribeConfigsResourceResult],
    name: &str,
) -> &'a DescribeConfigsResourceResult {
    configs
        .iter()
        .find(|e| *e.name == *name)
        .unwrap_or_else(|| panic!("{name} not described"))
}

/// (name, value, source) of each synonym.
fn synonyms(e: &DescribeConfigsResourceResult) -> Vec<(String, Option<String>, i8)> {
    e.synonyms
        .iter()
        .map(|s| {
            (
                s.name.to_string(),
                s.value.as_ref().map(|v| v.to_string()),
                s.source,
            )
        })
        .collect()
}

#[tokio::test]
async fn dynamic_broker_configs_apply_to_topics_and_survive_a_restart() {
    let mut b = TestBroker::start(&[]).await;
    let mut c = RawClient::connect(b.addr).await;
    common::ensure_topic(&mut c, "dyn").await;

    // A new data directory holds what `kafka-storage format` records: min.insync.replicas=1
    // as the cluster default.
    let defaults = describe(&mut c, 4, "").await;
    let mir = entry(&defaults, "min.insync.replicas");
    assert_eq!((mir.value.as_deref(), mir.config_source), (Some("1"), 3));
    let topic = describe(&mut c, 2, "dyn").await;
    assert_eq!(entry(&topic, "min.insync.replicas").config_source, 3);

    // This broker's own value and the cluster default: both listed, the broker's wins.
    assert_eq!(
        alter(&mut c, "1", &[("log.retention.ms", 0, Some("1000"))])
            .await
            .0,
        0
    );
    assert_eq!(
        alter(
            &mut c,
            "",
            &[
                ("log.retention.ms", 0, Some("2000")),
                ("message.max.bytes", 0, Some("2000"))
            ]
        )
        .await
        .0,
        0
    );
    let topic = describe(&mut c, 2, "dyn").await;
    let retention = entry(&topic, "retention.ms");
    assert_eq!(
        (retention.value.as_deref(), retention.config_source),
        (Some("1000"), 2)
    );
    assert_eq!(
        synonyms(retention),
        vec![
            ("log.retention.ms".into(), Some("1000".into()), 2),
            ("log.retention.ms".into(), Some("2000".into()), 3),
            ("log.retention.hours".into(), Some("168".into()), 5),
        ]
    );
    let broker = describe(&mut c, 4, "1").await;
    assert_eq!(entry(&broker, "log.retention.ms").config_source, 2);

    // The effect is real: message.max.bytes=2000 refuses a bigger batch on a topic without
    // its own max.message.bytes.
    let big = record_batch(120, None);
    assert!(big.len() > 2000);
    let (code, _) = produce_raw(&mut c, "dyn", 0, big.clone()).await;
    assert_eq!(code, ResponseError::MessageTooLarge.code());

    // What Kafka refuses: a key fixed at start, a value that does not parse, another broker.
    let (code, msg) = alter(&mut c, "1", &[("node.id", 0, Some("5"))]).await;
    assert_eq!(code, ResponseError::InvalidRequest.code());
    assert_eq!(msg, "Cannot update these configs dynamically: [node.id]");
    let (code, msg) = alter(&mut c, "1", &[("log.retention.ms", 0, Some("soon"))]).await;
    assert_eq!(code, ResponseError::InvalidRequest.code());
    assert!(msg.contains("log.retention.ms"), "{msg}");
    let (code, _) = alter(&mut c, "7", &[("log.retention.ms", 0, Some("5"))]).await;
    assert_eq!(code, ResponseError::InvalidRequest.code());
    // A key Gregor does not know is kept and described as Kafka does: sensitive, null.
    assert_eq!(
        alter(&mut c, "1", &[("no.such.key", 0, Some("1"))]).await.0,
        0
    );
    let broker = describe(&mut c, 4, "1").await;
    let unknown = entry(&broker, "no.such.key");
    assert!(unknown.is_sensitive && unknown.value.is_none());

    // Persisted: after a restart the values and their effect are back.
    b.restart().await;
    let mut c = RawClient::connect(b.addr).await;
    let topic = describe(&mut c, 2, "dyn").await;
    assert_eq!(entry(&topic, "retention.ms").value.as_deref(), Some("1000"));
    let (code, _) = produce_raw(&mut c, "dyn", 0, big.clone()).await;
    assert_eq!(code, ResponseError::MessageTooLarge.code());

    // Deleting the cluster default's message.max.bytes brings Kafka's default back.
    assert_eq!(
        alter(&mut c, "", &[("message.max.bytes", 1, None)]).await.0,
        0
    );
    let (code, _) = produce_raw(&mut c, "dyn", 0, big).await;
    assert_eq!(code, 0);
}
