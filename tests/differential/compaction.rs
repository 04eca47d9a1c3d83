//! Log compaction against Kafka: the same keyed batches (with a tombstone) into a compacted
//! topic whose segments roll after 100 ms, produced first; at the end of the run (both
//! cleaners run every `log.cleaner.backoff.ms`, 15 s by default, while the other cases go)
//! the topic is read back from offset 0 on both and the batches compared: base offsets, last
//! offset deltas, attributes (the KIP-534 delete horizon bit included), record counts, each
//! record's offset, key and value. The horizon's time itself and the CRC differ by clock.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use gregor::record::batch::BatchHeader;
use gregor::record::builder::{build_batch, put_record, BatchFields, RecordFields};
use gregor::record::reader::{RecordReader, Want};
use kafka_protocol::messages::ResponseKind;

use super::corpus::{
    add_partitions_to_txn, create, create_topics, end_txn, fetch, init_producer_id, now_ms,
    produce, producer_of, transactional,
};
use super::{diff, Answer, Pair};

const TOPIC: &str = "diff-compacted";

/// One batch of keyed records at `ts` (`None`: a tombstone).
fn keyed(ts: i64, records: &[(&str, Option<&str>)]) -> Vec<u8> {
    keyed_from(ts, records, None)
}

/// [`keyed`], transactional from `producer` (id, epoch) at sequence 0 if given.
fn keyed_from(ts: i64, records: &[(&str, Option<&str>)], producer: Option<(i64, i16)>) -> Vec<u8> {
    let mut section = Vec::new();
    for (i, (k, v)) in records.iter().enumerate() {
        put_record(
            &mut section,
            &RecordFields {
                offset_delta: i as i32,
                key: Some(k.as_bytes()),
                value: v.map(str::as_bytes),
                ..RecordFields::default()
            },
        );
    }
    let (producer_id, producer_epoch) = producer.unwrap_or((-1, -1));
    build_batch(
        &BatchFields {
            attributes: if producer.is_some() {
                gregor::record::batch::TRANSACTIONAL_BIT
            } else {
                0
            },
            last_offset_delta: records.len() as i32 - 1,
            base_timestamp: ts,
            max_timestamp: ts,
            producer_id,
            producer_epoch,
            base_sequence: if producer.is_some() { 0 } else { -1 },
            records_count: records.len() as i32,
            ..BatchFields::default()
        },
        &section,
    )
}

const TXN_TOPIC: &str = "diff-compacted-txn";
const TXN_ID: &str = "diff-compacted-txn-id";

/// A transaction aborted in a compacted topic, then a plain record on another key, a segment
/// each: the aborted batch is the producer's last, so both cleaners keep it empty, and the
/// ABORT marker with it.
async fn setup_transaction(p: &mut Pair) {
    use kafka_protocol::messages::{FindCoordinatorRequest, RequestKind};
    use kafka_protocol::protocol::StrBytes;
    p.compare(
        "compaction/create_transactional",
        create_topics(
            vec![create(
                TXN_TOPIC,
                1,
                1,
                &[
                    ("cleanup.policy", "compact"),
                    ("segment.ms", "100"),
                    ("min.cleanable.dirty.ratio", "0.01"),
                ],
            )],
            false,
        ),
        5,
    )
    .await;
    // Kafka creates __transaction_state when a coordinator is first looked up, then loads it.
    let find = RequestKind::FindCoordinator(
        FindCoordinatorRequest::default()
            .with_key_type(1)
            .with_coordinator_keys(vec![StrBytes::from_static_str(TXN_ID)]),
    );
    p.settle(find, 4, |r| {
        matches!(r, ResponseKind::FindCoordinator(r)
            if r.coordinators.iter().all(|c| c.error_code == 0))
    })
    .await;
    let init = init_producer_id(TXN_ID, 60_000, None);
    p.settle(
        init.clone(),
        4,
        |r| matches!(r, ResponseKind::InitProducerId(r) if r.error_code == 0),
    )
    .await;
    let (g, k) = p.send_both(&init, &init, 4).await;
    let (gp, kp) = (producer_of(&g), producer_of(&k));
    let add = |pe| add_partitions_to_txn(TXN_ID, pe, &[(TXN_TOPIC, &[0])]);
    p.compare_each(add(gp), add(kp), "compaction/add_partitions", 3)
        .await;
    let aborted = |pe| {
        let batch = keyed_from(now_ms(), &[("t", Some("aborted"))], Some(pe));
        transactional(TXN_ID, produce(TXN_TOPIC, 0, -1, batch))
    };
    p.compare_each(aborted(gp), aborted(kp), "compaction/produce_aborted", 9)
        .await;
    p.compare_each(
        end_txn(TXN_ID, gp, false),
        end_txn(TXN_ID, kp, false),
        "compaction/abort",
        3,
    )
    .await;
    for (i, b) in [[("u", Some("plain"))], [("end", Some("end"))]]
        .iter()
        .enumerate()
    {
        tokio::time::sleep(Duration::from_millis(150)).await;
        p.compare(
            &format!("compaction/produce_after_abort_{i}"),
            produce(TXN_TOPIC, 0, -1, keyed(now_ms(), b)),
            9,
        )
        .await;
    }
}

/// Creates the topic and writes the batches, 150 ms apart so each lands in its own segment.
pub async fn setup(p: &mut Pair) {
    p.compare(
        "compaction/create",
        create_topics(
            vec![create(
                TOPIC,
                1,
                1,
                &[
                    ("cleanup.policy", "compact"),
                    ("segment.ms", "100"),
                    ("min.cleanable.dirty.ratio", "0.01"),
                ],
            )],
            false,
        ),
        5,
    )
    .await;
    let batches: [&[(&str, Option<&str>)]; 4] = [
        &[("a", Some("a1")), ("b", Some("b1")), ("c", Some("c1"))],
        &[("a", Some("a2")), ("c", None)],
        &[("b", Some("b3"))],
        &[("end", Some("end"))],
    ];
    for (i, b) in batches.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        p.compare(
            &format!("compaction/produce_{i}"),
            produce(TOPIC, 0, -1, keyed(now_ms(), b)),
            9,
        )
        .await;
    }
    setup_transaction(p).await;
}

/// The batches of a Fetch answer's first partition as `path = value` pairs, and how many
/// records they hold.
fn summary(a: &Answer) -> (BTreeMap<String, String>, usize) {
    let mut out = BTreeMap::new();
    let Answer::Response(r) = a else {
        out.insert("answer".into(), "closed".into());
        return (out, 0);
    };
    let ResponseKind::Fetch(f) = r.as_ref() else {
        out.insert("answer".into(), format!("{r:?}"));
        return (out, 0);
    };
    let part = &f.responses[0].partitions[0];
    out.insert("error_code".into(), part.error_code.to_string());
    out.insert("high_watermark".into(), part.high_watermark.to_string());
    out.insert("log_start_offset".into(), part.log_start_offset.to_string());
    let bytes = part.records.clone().unwrap_or_default();
    let (mut pos, mut i, mut n) = (0usize, 0usize, 0usize);
    while let Some(h) = BatchHeader::parse(&bytes[pos..]) {
        if pos + h.total_len() > bytes.len() {
            break;
        }
        let b = &bytes[pos..pos + h.total_len()];
        let at = |f: &str| format!("batch[{i}].{f}");
        out.insert(at("base_offset"), h.base_offset.to_string());
        out.insert(at("last_offset_delta"), h.last_offset_delta.to_string());
        out.insert(at("attributes"), format!("{:#x}", h.attributes));
        out.insert(at("records_count"), h.records_count.to_string());
        // Each broker hands out its own producer ids.
        // Each broker hands out its own producer ids, and the epoch counts the
        // InitProducerId calls made while waiting for Kafka's coordinator.
        let (pid, epoch) = if h.producer_id >= 0 {
            ("<pid>".to_string(), "<epoch>".to_string())
        } else {
            (h.producer_id.to_string(), h.producer_epoch.to_string())
        };
        out.insert(at("producer"), format!("{pid}/{epoch}/{}", h.base_sequence));
        if let Some(t) = h.delete_horizon_ms() {
            // A day from each broker's own clock at its pass.
            let day = 24 * 60 * 60 * 1000;
            out.insert(
                at("delete_horizon"),
                format!("{}", (t - now_ms() - day).abs() < 600_000),
            );
        }
        let text = |v: Option<&[u8]>| {
            v.map_or("null".to_string(), |v| {
                String::from_utf8_lossy(v).into_owned()
            })
        };
        if let Ok(mut rr) = RecordReader::new(b, &h, 1 << 20) {
            let mut j = 0;
            while let Ok(Some(m)) = rr.next_record(Want::Data) {
                out.insert(
                    format!("batch[{i}].record[{j}]"),
                    format!(
                        "{} {}={}",
                        h.base_offset + i64::from(m.offset_delta),
                        text(rr.key()),
                        text(rr.value())
                    ),
                );
                j += 1;
                n += 1;
            }
        }
        pos += h.total_len();
        i += 1;
    }
    (out, n)
}

/// Reads each topic back from both once both cleaners have been over it, and compares what
/// they hold: of the first, a=a2, the c tombstone, b=b3 and end are left (4 records); of the
/// transactional one, the aborted batch is kept empty (the producer's last), then its ABORT
/// marker and u=plain (2 records).
pub async fn check(p: &mut Pair) {
    for (topic, left, case) in [
        (TOPIC, 4, "compaction/fetch_cleaned"),
        (TXN_TOPIC, 2, "compaction/fetch_cleaned_transactional"),
    ] {
        let deadline = Instant::now() + Duration::from_secs(90);
        let (g, k, kafka_records) = loop {
            let (g, k) = p
                .send_both(&fetch(topic, 0, 0), &fetch(topic, 0, 0), 12)
                .await;
            let (gs, gn) = summary(&g);
            let (ks, kn) = summary(&k);
            if (gn <= left && kn <= left) || Instant::now() > deadline {
                break (gs, ks, kn);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        if std::env::var("DIFF_RAW").is_ok_and(|c| case.contains(&c)) {
            println!("{case}: gregor {g:#?}\n{case}: kafka {k:#?}");
        }
        let mut diffs = diff::compare(&g, &k);
        if kafka_records > left {
            // Both unclean would compare equal: the case only counts once Kafka has cleaned.
            diffs.push(diff::Difference {
                path: "kafka_cleaned_within_90s".into(),
                gregor: "-".into(),
                kafka: format!("{kafka_records} records left"),
            });
        }
        p.results.push((case.into(), diffs));
    }
}
