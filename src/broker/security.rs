//! ACLs and client quotas as Kafka answers them with no authorizer and no quotas configured:
//! the ACL APIs refuse with SECURITY_DISABLED ("No Authorizer is configured."), and
//! DescribeClientQuotas lists nothing. SASL, TLS and a real authorizer replace this later.

use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_response::DeleteAclsFilterResult;
use kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse, DescribeClientQuotasRequest,
    DescribeClientQuotasResponse,
};
use kafka_protocol::ResponseError;

use super::sb;

/// The operations a topic allows with no authorizer (READ, WRITE, CREATE, DELETE, ALTER,
/// DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS as bits of `AclOperation` codes), reported when a
/// request asks for authorized operations, as Kafka does.
pub const TOPIC_OPERATIONS: i32 = 3576;
/// A group's operations with no authorizer (READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS,
/// ALTER_CONFIGS).
pub const GROUP_OPERATIONS: i32 = 3400;
/// The cluster's operations with no authorizer (CREATE, ALTER, DESCRIBE, CLUSTER_ACTION,
/// DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE).
pub const CLUSTER_OPERATIONS: i32 = 8096;

/// The authorized-operations field when `asked`, else Kafka's "not requested" value.
pub fn operations(asked: bool, all: i32) -> i32 {
    if asked {
        all
    } else {
        i32::MIN
    }
}

/// Kafka's message when an ACL API arrives and no authorizer is configured.
const NO_AUTHORIZER: &str = "No Authorizer is configured.";

/// DescribeAcls: SECURITY_DISABLED.
pub fn describe_acls(_req: DescribeAclsRequest) -> DescribeAclsResponse {
    DescribeAclsResponse::default()
        .with_error_code(ResponseError::SecurityDisabled.code())
        .with_error_message(Some(sb(NO_AUTHORIZER)))
}

/// CreateAcls: SECURITY_DISABLED for every creation.
pub fn create_acls(req: CreateAclsRequest) -> CreateAclsResponse {
    CreateAclsResponse::default().with_results(
        req.creations
            .iter()
            .map(|_| {
                AclCreationResult::default()
                    .with_error_code(ResponseError::SecurityDisabled.code())
                    .with_error_message(Some(sb(NO_AUTHORIZER)))
            })
            .collect(),
    )
}

/// DeleteAcls: SECURITY_DISABLED for every filter.
pub fn delete_acls(req: DeleteAclsRequest) -> DeleteAclsResponse {
    DeleteAclsResponse::default().with_filter_results(
        req.filters
            .iter()
            .map(|_| {
                DeleteAclsFilterResult::default()
                    .with_error_code(ResponseError::SecurityDisabled.code())
                    .with_error_message(Some(sb(NO_AUTHORIZER)))
            })
            .collect(),
    )
}

/// DescribeClientQuotas: no quota is configured, so no entity matches.
pub fn describe_client_quotas(_req: DescribeClientQuotasRequest) -> DescribeClientQuotasResponse {
    DescribeClientQuotasResponse::default().with_entries(Some(Vec::new()))
}
