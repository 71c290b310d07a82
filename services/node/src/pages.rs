//! What the node's own pages need from it besides gRPC-Web (`wire::documents`):
//!
//! - `GET /api/descriptor.binpb`: the API's descriptor set (the encoded
//!   `google.protobuf.FileDescriptorSet` of every service this build serves), gzipped to
//!   browsers that take it (`wire::compress`);
//! - `GET /api/portal.json`: the hromada's code and the association's public API the portal
//!   fetches receipts from (`association_url` in `node.toml`; `null` without one).

/// Where the portal's settings are served.
pub const PORTAL_SETTINGS_PATH: &str = "/api/portal.json";

/// The documents of the node of `municipality`, whose portal fetches receipts from the
/// association at `association` (an origin), if any.
pub fn documents(municipality: &str, association: Option<&str>) -> wire::documents::Documents {
    let settings = serde_json::json!({
        "municipality": municipality,
        "association": association,
    });
    wire::documents::Documents::with_descriptor(
        proto::FILE_DESCRIPTOR_SET,
        vec![(
            PORTAL_SETTINGS_PATH,
            bytes::Bytes::from(settings.to_string()),
            "application/json",
        )],
    )
}
