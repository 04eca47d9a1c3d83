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

use super::corpus::{create, create_topics, fetch, now_ms, produce};
use super::{diff, Answer, Pair};

const TOPIC: &str = "diff-compacted";

/// One batch of keyed records at `ts` (`None`: a tombstone).
fn keyed(ts: i64, records: &[(&str, Option<&str>)]) -> Vec<u8> {
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
    build_batch(
        &BatchFields {
            last_offset_delta: records.len() as i32 - 1,
            base_timestamp: ts,
            max_timestamp: ts,
            records_count: records.len() as i32,
            ..BatchFields::default()
        },
        &section,
    )
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
        out.insert(
            at("producer"),
            format!("{}/{}/{}", h.producer_id, h.producer_epoch, h.base_sequence),
        );
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

/// Reads the topic back from both once both cleaners have been over it (a, c tombstone, b and
/// end are left: 4 records), and compares what they hold.
pub async fn check(p: &mut Pair) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let (g, k, kafka_records) = loop {
        let (g, k) = p
            .send_both(&fetch(TOPIC, 0, 0), &fetch(TOPIC, 0, 0), 12)
            .await;
        let (gs, gn) = summary(&g);
        let (ks, kn) = summary(&k);
        if (gn <= 4 && kn <= 4) || Instant::now() > deadline {
            break (gs, ks, kn);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    if std::env::var("DIFF_RAW").is_ok_and(|c| "compaction/fetch_cleaned".contains(&c)) {
        println!("compaction: gregor {g:#?}\ncompaction: kafka {k:#?}");
    }
    let mut diffs = diff::compare(&g, &k);
    if kafka_records > 4 {
        // Both unclean would compare equal: the case only counts once Kafka has cleaned.
        diffs.push(diff::Difference {
            path: "kafka_cleaned_within_90s".into(),
            gregor: "-".into(),
            kafka: format!("{kafka_records} records left"),
        });
    }
    p.results.push(("compaction/fetch_cleaned".into(), diffs));
}
