use super::*;

fn spec(api: &str, action: &str) -> FaultSpec {
    FaultSpec {
        api: api.into(),
        action: action.into(),
        ..FaultSpec::default()
    }
}

fn facts<'a>(api: ApiKey, parts: &'a [(String, Option<i32>)]) -> RequestFacts<'a> {
    RequestFacts {
        api,
        version: 9,
        client_id: "app",
        broker: 1,
        partitions: parts,
    }
}

#[test]
fn names_and_codes_parse_both_ways() {
    assert_eq!(parse_api("produce"), Some(ApiKey::Produce));
    assert_eq!(parse_api("OffsetCommit"), Some(ApiKey::OffsetCommit));
    assert_eq!(parse_api("offset_commit"), Some(ApiKey::OffsetCommit));
    assert_eq!(parse_api("1"), Some(ApiKey::Fetch));
    assert_eq!(parse_api("producer"), None);
    assert_eq!(parse_api("999"), None);
    assert_eq!(
        parse_error("NOT_ENOUGH_REPLICAS"),
        Some(ResponseError::NotEnoughReplicas)
    );
    assert_eq!(parse_error("19"), Some(ResponseError::NotEnoughReplicas));
    assert_eq!(parse_error("0"), None);
    assert_eq!(parse_error("NOT_A_THING"), None);
    assert_eq!(parse_error("1000"), None);
    assert_eq!(
        error_name(ResponseError::NotLeaderOrFollower),
        "NOT_LEADER_OR_FOLLOWER"
    );
    for code in [-1i16, 1, 6, 7, 19, 74, 100] {
        let e = ResponseError::try_from_code(code).unwrap();
        assert_eq!(parse_error(&error_name(e)), Some(e), "code {code}");
    }
}

#[test]
fn bad_specs_are_refused_with_the_reason() {
    let f = Faults::new(|api| api != ApiKey::SaslHandshake);
    let err = |s: FaultSpec| f.add(s).unwrap_err();
    assert_eq!(
        err(spec("producer", "hang")),
        FaultSpecError::UnknownApi("producer".into())
    );
    assert_eq!(
        err(spec("produce", "explode")),
        FaultSpecError::UnknownAction("explode".into())
    );
    assert!(matches!(
        err(spec("produce", "error")),
        FaultSpecError::Missing { field: "error", .. }
    ));
    assert_eq!(
        err(FaultSpec {
            error: Some("NO_SUCH_ERROR".into()),
            ..spec("produce", "error")
        }),
        FaultSpecError::UnknownError("NO_SUCH_ERROR".into())
    );
    assert_eq!(
        err(FaultSpec {
            error: Some("UNKNOWN_SERVER_ERROR".into()),
            ..spec("sasl_handshake", "error")
        }),
        FaultSpecError::ErrorNotSupported(ApiKey::SaslHandshake)
    );
    assert!(matches!(
        err(spec("produce", "delay")),
        FaultSpecError::Missing {
            field: "delay_ms",
            ..
        }
    ));
    assert_eq!(
        err(FaultSpec {
            times: Some(0),
            ..spec("produce", "hang")
        }),
        FaultSpecError::BadTimes
    );
    assert_eq!(
        err(FaultSpec {
            times: Some(2),
            always: true,
            ..spec("produce", "hang")
        }),
        FaultSpecError::BadTimes
    );
    assert_eq!(
        err(FaultSpec {
            min_version: Some(5),
            max_version: Some(3),
            ..spec("produce", "hang")
        }),
        FaultSpecError::BadVersions(5, 3)
    );
    // add_all is all or nothing.
    let r = f.add_all(vec![spec("produce", "hang"), spec("nope", "hang")]);
    assert_eq!(r.unwrap_err().0, 1);
    assert!(f.list().is_empty(), "nothing was added");
}

#[test]
fn the_first_live_matching_rule_fires_and_spent_rules_stay_listed() {
    let f = Faults::default();
    let none: Vec<(String, Option<i32>)> = Vec::new();
    let a = f
        .add(FaultSpec {
            times: Some(2),
            min_version: Some(3),
            ..spec("produce", "disconnect")
        })
        .unwrap();
    let b = f.add(spec("produce", "lose-response")).unwrap();
    assert_eq!((a.id, b.id), (1, 2));
    let old = RequestFacts {
        version: 2,
        ..facts(ApiKey::Produce, &none)
    };
    // v2 is below rule 1's range: rule 2 fires.
    assert_eq!(f.before(&old), Some((2, FaultAction::LoseResponse)));
    assert_eq!(f.before(&old), None, "rule 2 is spent");
    let req = facts(ApiKey::Produce, &none);
    assert_eq!(f.before(&req), Some((1, FaultAction::Disconnect)));
    assert_eq!(f.before(&req), Some((1, FaultAction::Disconnect)));
    assert_eq!(f.before(&req), None);
    assert_eq!(f.before(&facts(ApiKey::Fetch, &none)), None);
    let listed = f.list();
    assert_eq!(listed.len(), 2);
    assert_eq!((listed[0].hits, listed[0].remaining), (2, Some(0)));
    assert_eq!((listed[1].hits, listed[1].remaining), (1, Some(0)));
    assert!(!f.any_live());
    assert!(f.remove(1));
    assert!(!f.remove(1));
    f.clear();
    assert!(f.list().is_empty());
}

#[test]
fn matchers_select_client_broker_topic_and_partition() {
    let f = Faults::default();
    f.add(FaultSpec {
        client_id: Some("other".into()),
        always: true,
        ..spec("metadata", "hang")
    })
    .unwrap();
    f.add(FaultSpec {
        broker: Some(2),
        always: true,
        ..spec("metadata", "disconnect")
    })
    .unwrap();
    f.add(FaultSpec {
        topic: Some("orders".into()),
        always: true,
        ..spec("metadata", "lose-response")
    })
    .unwrap();
    let none: Vec<(String, Option<i32>)> = Vec::new();
    let orders = vec![("orders".to_string(), None)];
    assert_eq!(f.before(&facts(ApiKey::Metadata, &none)), None);
    assert_eq!(
        f.before(&facts(ApiKey::Metadata, &orders)),
        Some((3, FaultAction::LoseResponse))
    );
    let on2 = RequestFacts {
        broker: 2,
        ..facts(ApiKey::Metadata, &none)
    };
    assert_eq!(f.before(&on2), Some((2, FaultAction::Disconnect)));
    let other = RequestFacts {
        client_id: "other",
        ..facts(ApiKey::Metadata, &none)
    };
    assert_eq!(f.before(&other), Some((1, FaultAction::Hang)));
    assert!(f.list().iter().all(|r| r.remaining.is_none()));
}

#[test]
fn partition_errors_fire_per_partition_and_whole_request_errors_do_not() {
    let f = Faults::default();
    f.add(FaultSpec {
        topic: Some("t".into()),
        partition: Some(1),
        error: Some("NOT_ENOUGH_REPLICAS".into()),
        times: Some(2),
        ..spec("produce", "error")
    })
    .unwrap();
    let parts = vec![("t".to_string(), Some(0)), ("t".to_string(), Some(1))];
    let req = facts(ApiKey::Produce, &parts);
    // A partition-scoped error is not a whole-request fault.
    assert_eq!(f.before(&req), None);
    assert_eq!(f.partition_error(&req, "t", 0), None);
    assert_eq!(f.partition_error(&req, "u", 1), None);
    assert_eq!(
        f.partition_error(&req, "t", 1),
        Some((1, ResponseError::NotEnoughReplicas))
    );
    assert_eq!(
        f.partition_error(&req, "t", 1),
        Some((1, ResponseError::NotEnoughReplicas))
    );
    assert_eq!(f.partition_error(&req, "t", 1), None);
    // Without a topic, the error is for the whole request.
    f.add(FaultSpec {
        error: Some("NOT_ENOUGH_REPLICAS".into()),
        ..spec("produce", "error")
    })
    .unwrap();
    assert_eq!(f.partition_error(&req, "t", 0), None);
    assert_eq!(
        f.before(&req),
        Some((2, FaultAction::Error(ResponseError::NotEnoughReplicas)))
    );
}

#[tokio::test]
async fn wait_returns_once_the_rule_fired_enough() {
    let f = Arc::new(Faults::default());
    let r = f
        .add(FaultSpec {
            times: Some(3),
            ..spec("produce", "disconnect")
        })
        .unwrap();
    let none: Vec<(String, Option<i32>)> = Vec::new();
    assert!(matches!(
        f.wait(r.id, 1, Duration::from_millis(10)).await,
        WaitOutcome::TimedOut(ref x) if x.hits == 0
    ));
    let waiter = {
        let f = f.clone();
        tokio::spawn(async move { f.wait(r.id, 2, Duration::from_secs(60)).await })
    };
    f.before(&facts(ApiKey::Produce, &none));
    f.before(&facts(ApiKey::Produce, &none));
    assert!(matches!(waiter.await.unwrap(), WaitOutcome::Reached(ref x) if x.hits == 2));
    assert_eq!(
        f.wait(99, 1, Duration::from_secs(60)).await,
        WaitOutcome::Gone
    );
}
