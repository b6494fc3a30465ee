//! Every gRPC method this server answers, read once from the compiled descriptor sets (ours, health and
//! reflection): the closed list metrics label calls with, and which methods stream (they run as long as
//! their client reads or writes, so the per-call deadline is not theirs).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use prost::Message as _;

/// A method's path, `/package.Service/Method`, and whether either side streams.
#[derive(Debug)]
pub struct Methods {
    streaming: BTreeMap<String, bool>,
}

/// The label of every call whose path is not one of ours (client input: never a label of its own).
pub const UNKNOWN: &str = "unknown";

static METHODS: LazyLock<Methods> = LazyLock::new(|| {
    let sets: [&[u8]; 4] = [
        credit_proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ];
    let mut streaming = BTreeMap::new();
    for bytes in sets {
        // Compiled into the binary by the crates that own them; a set that does not decode adds nothing
        // (and the test below fails).
        let Ok(set) = prost_types::FileDescriptorSet::decode(bytes) else { continue };
        for file in &set.file {
            let package = file.package();
            for service in &file.service {
                for method in &service.method {
                    let path = format!("/{package}.{}/{}", service.name(), method.name());
                    streaming.insert(path, method.client_streaming() || method.server_streaming());
                }
            }
        }
    }
    Methods { streaming }
});

impl Methods {
    pub fn get() -> &'static Methods {
        &METHODS
    }

    /// The path as a label: itself when it is one of ours, [`UNKNOWN`] otherwise.
    pub fn label(&'static self, path: &str) -> &'static str {
        self.streaming.get_key_value(path).map_or(UNKNOWN, |(known, _)| known.as_str())
    }

    /// Whether the method streams requests or responses (`None`: not a method of ours).
    pub fn streams(&self, path: &str) -> Option<bool> {
        self.streaming.get(path).copied()
    }

    /// Admin operations that take as long as the store is large (a full index build, a checkpoint): the
    /// per-call deadline would only cut the answer off, not the work.
    pub fn long_running(path: &str) -> bool {
        matches!(path, "/credit.v1.AdminService/Reindex" | "/credit.v1.AdminService/Backup")
    }

    pub fn paths(&self) -> BTreeSet<&str> {
        self.streaming.keys().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_is_listed_and_streaming_is_known() {
        let methods = Methods::get();
        assert_eq!(methods.streams("/credit.v1.SubjectService/GetSubject"), Some(false));
        assert_eq!(methods.streams("/credit.v1.ImportService/Upload"), Some(true));
        assert_eq!(methods.streams("/grpc.health.v1.Health/Check"), Some(false));
        assert_eq!(methods.streams("/grpc.health.v1.Health/Watch"), Some(true));
        assert_eq!(methods.streams("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"), Some(true));
        assert_eq!(methods.label("/credit.v1.SubjectService/GetSubject\"} 1"), UNKNOWN);
        assert_eq!(methods.label("/credit.v1.Nope/Nope"), UNKNOWN);
        assert!(methods.paths().len() >= 27, "{:?}", methods.paths());
    }
}
