//! What the service decides with: the rules and the world loaded together
//! as one [`Snapshot`], and the [`Live`] slot that holds the current one.
//!
//! A snapshot is loaded and validated in full before anyone sees it; the
//! slot is swapped atomically, so a request holds one consistent snapshot
//! from start to end, and an invalid change never replaces a valid one.

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::diag::{Diagnostics, Source};
use crate::jsonl::Names;
use crate::{RuleSet, World};

/// Where the rules and the world come from; read again on every reload.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The rules directory; `None` for the shipped rules.
    pub rules: Option<PathBuf>,
    /// The world file; `None` when every request carries its facts inline.
    pub world: Option<PathBuf>,
}

/// Rules and a world, loaded together, with their versions.
#[derive(Debug)]
pub struct Snapshot {
    /// The rules.
    pub rules: RuleSet,
    /// The world (empty when the service was started without one), shared
    /// with the next snapshot when a reload finds the world file unchanged.
    pub world: Arc<World>,
    /// The rules' digest as 16 hex digits: decisions name it as `rule_set`.
    pub rule_set: String,
    /// The world file's digest as 16 hex digits (`world_version`); `none`
    /// without a world file.
    pub world_version: String,
    /// When it was loaded.
    pub loaded_at: jiff::Timestamp,
    /// Every id a decision line names, escaped once, and the line's end
    /// with `rule_set` and `world_version`.
    pub(crate) names: Names,
}

impl Snapshot {
    /// Reads and validates the rules and the world; every problem of both at once.
    pub fn load(sources: &Sources) -> Result<Snapshot, Diagnostics> {
        Snapshot::load_after(sources, None)
    }

    /// [`Snapshot::load`] on a reload: when the world file's bytes are those
    /// `previous` was loaded from (the same digest), its world is kept as it
    /// is instead of being read again. A rules edit then costs the rules'
    /// loading alone, and one world stays in memory, not two.
    pub fn load_after(sources: &Sources, previous: Option<&Snapshot>) -> Result<Snapshot, Diagnostics> {
        let rules = match &sources.rules {
            Some(dir) => RuleSet::load_dir(dir),
            None => Ok(RuleSet::shipped()),
        };
        let world = match &sources.world {
            Some(path) => Source::read(path).and_then(|source| {
                let digest = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(source.text.as_bytes()));
                match previous.filter(|p| p.world_version == digest) {
                    Some(p) => Ok((p.world.clone(), digest)),
                    None => World::parse(source).map(|w| (Arc::new(w), digest)),
                }
            }),
            None => match previous.filter(|p| p.world_version == "none") {
                Some(p) => Ok((p.world.clone(), "none".to_owned())),
                None => World::builder().build().map(|w| (Arc::new(w), "none".to_owned())),
            },
        };
        let (rules, (world, world_version)) = match (rules, world) {
            (Ok(r), Ok(w)) => (r, w),
            (r, w) => {
                let mut diags = Diagnostics::default();
                for d in [r.err(), w.err()].into_iter().flatten() {
                    diags.extend(d);
                }
                return Err(diags.sorted());
            }
        };
        // Every client's phone and email now, off the request path: the
        // first outbound request for each client does not pay for it.
        world.validate_contacts();
        let rule_set = format!("{:016x}", rules.digest());
        // Decision lines end with the versions of what decided them.
        let names = Names::new(&rules, &world).with_versions(&rule_set, &world_version);
        Ok(Snapshot {
            rule_set,
            rules,
            world,
            world_version,
            loaded_at: jiff::Timestamp::now(),
            names,
        })
    }
}

/// The snapshot requests are decided with, swapped whole on reload.
#[derive(Debug)]
pub struct Live(ArcSwap<Snapshot>);

impl Live {
    /// A slot holding `first`.
    pub fn new(first: Snapshot) -> Live {
        Live(ArcSwap::from_pointee(first))
    }

    /// The current snapshot; a request keeps it to the end, whatever reloads meanwhile.
    pub fn current(&self) -> Arc<Snapshot> {
        self.0.load_full()
    }

    /// Puts `next` in place for every request that starts from now on.
    pub fn replace(&self, next: Snapshot) {
        self.0.store(Arc::new(next));
    }
}
