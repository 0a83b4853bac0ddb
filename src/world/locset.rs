//! Sets of locations, the currency of routing decisions.
//!
//! A world numbers its locations in id order, so a set is a small sorted list
//! of those numbers: set operations are merges, iteration yields ids sorted, and
//! the common sizes (one to four locations) never allocate.

use smallvec::SmallVec;

/// The number of a location in its world (locations are numbered in id order).
pub type Loc = u16;

/// A set of locations of one world, kept sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct LocSet(SmallVec<[Loc; 6]>);

impl LocSet {
    /// The empty set.
    pub const fn new() -> Self {
        LocSet(SmallVec::new_const())
    }

    /// The set of one location.
    pub fn one(loc: Loc) -> Self {
        let mut s = LocSet::new();
        s.0.push(loc);
        s
    }

    /// Builds a set from any locations, sorting and removing repeats.
    pub fn from_unsorted(locs: impl IntoIterator<Item = Loc>) -> Self {
        let mut v: SmallVec<[Loc; 6]> = locs.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        LocSet(v)
    }

    /// How many locations the set holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set holds no location.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the set holds `loc`.
    #[inline]
    pub fn contains(&self, loc: Loc) -> bool {
        // Sets are tiny: a linear scan beats a binary search here.
        self.0.contains(&loc)
    }

    /// The locations, in id order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Loc> + '_ {
        self.0.iter().copied()
    }

    /// The locations as a sorted slice.
    pub fn as_slice(&self) -> &[Loc] {
        &self.0
    }

    /// Adds a location (nothing changes if it is already there).
    pub fn insert(&mut self, loc: Loc) {
        if let Err(i) = self.0.binary_search(&loc) {
            self.0.insert(i, loc);
        }
    }

    /// Whether the two sets have at least one location in common.
    #[inline]
    pub fn intersects(&self, other: &LocSet) -> bool {
        let (mut a, mut b) = (self.0.iter(), other.0.iter());
        let (mut x, mut y) = (a.next(), b.next());
        while let (Some(p), Some(q)) = (x, y) {
            match p.cmp(q) {
                std::cmp::Ordering::Less => x = a.next(),
                std::cmp::Ordering::Greater => y = b.next(),
                std::cmp::Ordering::Equal => return true,
            }
        }
        false
    }

    /// The locations in both sets.
    pub fn intersection(&self, other: &LocSet) -> LocSet {
        LocSet(self.0.iter().copied().filter(|l| other.contains(*l)).collect())
    }

    /// The locations in either set.
    pub fn union(&self, other: &LocSet) -> LocSet {
        let mut out = self.clone();
        for l in other.iter() {
            out.insert(l);
        }
        out
    }
}

impl FromIterator<Loc> for LocSet {
    fn from_iter<I: IntoIterator<Item = Loc>>(iter: I) -> Self {
        LocSet::from_unsorted(iter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations_keep_order_and_uniqueness() {
        let a = LocSet::from_unsorted([3, 1, 2, 1]);
        let b = LocSet::from_unsorted([5, 3]);
        assert_eq!(a.as_slice(), &[1, 2, 3]);
        assert!(a.intersects(&b));
        assert_eq!(a.intersection(&b).as_slice(), &[3]);
        assert_eq!(a.union(&b).as_slice(), &[1, 2, 3, 5]);
        assert!(!a.intersects(&LocSet::one(4)));
        assert!(!LocSet::new().intersects(&a));
    }
}
