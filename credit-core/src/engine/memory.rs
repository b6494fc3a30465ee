//! An in-memory engine: the same contract as RocksDB, for tests and for embedding without a disk.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::RwLock;

use super::{Cf, Engine, EngineError, Op, WriteBatch};

type Families = HashMap<Cf, BTreeMap<Vec<u8>, Vec<u8>>>;

#[derive(Debug, Default)]
pub struct MemoryEngine {
    families: RwLock<Families>,
}

impl MemoryEngine {
    pub fn new() -> MemoryEngine {
        MemoryEngine::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Families> {
        // A panic while holding the lock cannot leave a half-applied batch (see `write`), so the data
        // behind a poisoned lock is still consistent.
        self.families.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl Engine for MemoryEngine {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        Ok(self.read().get(&cf).and_then(|m| m.get(key)).cloned())
    }

    fn scan_prefix(
        &self,
        cf: Cf,
        prefix: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), EngineError> {
        let families = self.read();
        let Some(map) = families.get(&cf) else {
            return Ok(());
        };
        for (k, v) in map.range(prefix.to_vec()..) {
            if !k.starts_with(prefix) || !visit(k, v) {
                break;
            }
        }
        Ok(())
    }

    fn scan_from(&self, cf: Cf, start: &[u8], visit: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<(), EngineError> {
        let families = self.families.read().unwrap_or_else(|e| e.into_inner());
        let Some(map) = families.get(&cf) else {
            return Ok(());
        };
        for (k, v) in map.range(start.to_vec()..) {
            if !visit(k, v) {
                break;
            }
        }
        Ok(())
    }

    fn write(&self, batch: WriteBatch) -> Result<(), EngineError> {
        let mut families = self.families.write().unwrap_or_else(|e| e.into_inner());
        // Nothing below can panic or fail part-way, so the batch applies whole.
        for op in batch.ops() {
            match op {
                Op::Put { cf, key, value } => {
                    families.entry(*cf).or_default().insert(key.clone(), value.clone());
                }
                Op::Delete { cf, key } => {
                    if let Some(map) = families.get_mut(cf) {
                        map.remove(key);
                    }
                }
            }
        }
        Ok(())
    }

    fn checkpoint(&self, _dir: &Path) -> Result<(), EngineError> {
        Err(EngineError::Engine("the in-memory engine has no files to checkpoint".to_string()))
    }
}
