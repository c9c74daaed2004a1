//! A world kept in a file, so a simulated cloud run in real time (`ccm serve`)
//! outlives its process: instances, images, CML servers with their labs and
//! licences, the purge queue, the instance counter and the random streams are
//! written as JSON and read back at the next start. Every instant in the world is
//! absolute, so an instance that was booting when the process stopped is running
//! once its boot time has passed on the clock, as on a real cloud that went on
//! without ccm.
//!
//! A save writes a temporary file beside the target, flushes it to disk and renames
//! it over the target, so a crash at any point leaves the previous save or the new
//! one, never a mix. The file carries a `format` number; a file of another format,
//! or one that does not parse, is an error naming the file — never a silent fresh
//! world, which would turn every instance the store knows into a missing one.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ccm_core::time::Timestamp;
use serde::{Deserialize, Serialize};

use crate::config::SimConfig;
use crate::error::SimError;
use crate::world::{Shared, World};

/// The format this build writes and reads. Raise it whenever a saved type changes
/// shape, so an older or newer file is refused by name instead of misread.
pub const WORLD_FORMAT: u32 = 1;

/// The file's layout, borrowed for writing.
#[derive(Serialize)]
struct SavedWorldRef<'a> {
    format: u32,
    world: &'a World,
}

/// The file's layout, owned for reading.
#[derive(Deserialize)]
struct SavedWorld {
    world: World,
}

/// Only the format, read first so a file of another format is named as such rather
/// than as a parse error deep inside the world.
#[derive(Deserialize)]
struct FormatOnly {
    format: Option<u32>,
}

/// Where a world is kept, and a fingerprint of what was last written there.
#[derive(Debug)]
pub(crate) struct WorldFile {
    path: PathBuf,
    /// Hash of the bytes last written; a save that would write the same bytes
    /// writes nothing. The lock also keeps two saves from sharing the temporary file.
    last_saved: Mutex<Option<u64>>,
}

impl WorldFile {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            last_saved: Mutex::new(None),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, problem: impl Into<String>) -> SimError {
        SimError::WorldFile {
            path: self.path.display().to_string(),
            problem: problem.into(),
        }
    }

    /// The saved world put under `config`, or `None` when there is no file yet.
    pub(crate) fn load(
        &self,
        config: SimConfig,
        now: Timestamp,
    ) -> Result<Option<World>, SimError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.error(format!("cannot be read: {e}"))),
        };
        let format = serde_json::from_slice::<FormatOnly>(&bytes)
            .map_err(|e| {
                self.error(format!(
                    "is damaged or is not a saved simulated world ({e})"
                ))
            })?
            .format;
        match format {
            Some(WORLD_FORMAT) => {}
            Some(other) => {
                return Err(self.error(format!(
                    "was written in format {other}, and this build reads format {WORLD_FORMAT}"
                )))
            }
            None => return Err(self.error("has no `format` field")),
        }
        let saved: SavedWorld =
            serde_json::from_slice(&bytes).map_err(|e| self.error(format!("is damaged ({e})")))?;
        let mut world = saved.world;
        world.configure(config, now);
        Ok(Some(world))
    }

    /// Writes the world when it changed since the last save; `Ok(true)` when it
    /// wrote. The world is serialised under its lock (a consistent snapshot) and
    /// written after the lock is released.
    pub(crate) fn save(&self, shared: &Shared) -> Result<bool, SimError> {
        let mut last_saved = self.last_saved.lock().map_err(|_| SimError::Poisoned)?;
        let bytes = {
            let world = shared.lock()?;
            serde_json::to_vec(&SavedWorldRef {
                format: WORLD_FORMAT,
                world: &world,
            })
            .map_err(|e| self.error(format!("cannot be serialised: {e}")))?
        };
        let mut hasher = DefaultHasher::new();
        bytes.hash(&mut hasher);
        let fingerprint = hasher.finish();
        if *last_saved == Some(fingerprint) {
            return Ok(false);
        }
        self.write_atomically(&bytes)
            .map_err(|e| self.error(format!("cannot be written: {e}")))?;
        *last_saved = Some(fingerprint);
        Ok(true)
    }

    fn write_atomically(&self, bytes: &[u8]) -> std::io::Result<()> {
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let mut temporary = self.path.as_os_str().to_owned();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temporary, &self.path)
    }
}
