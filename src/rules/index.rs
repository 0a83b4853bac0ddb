//! The rule index of a first-match policy: which rules can still hold for an
//! event, found with a few bitwise ANDs instead of a test per rule.
//!
//! At load, every discrete fact a policy's rules test becomes a *dimension*:
//! a yes/no fact, a word fact (who started the conversation, what is
//! answered, the channel), the size of a set of locations (for `count`,
//! `count_at_least`, `count_at_most`), or a location or account fact (absent,
//! one of the ids the rules name, or another one). Each dimension has a few
//! *slots*, one per value that matters. For every slot the index keeps a
//! bitset of the rules that may hold when the event's fact is in that slot.
//!
//! A rule's bitsets come from reading its condition once for each answer it
//! could give: `all` narrows, `any` widens, `not` swaps what "true" needs
//! with what "false" needs, so `not: {conversation.started_by: staff}` is
//! indexed as exactly as the test itself. A test the index cannot decide
//! from a slot (set tests such as `shares_any_with`, `in`, `same_as`) leaves
//! its dimension open ("may hold"), and so does a script. A rule that could
//! fail when evaluated (a Rhai script, or a literal location id that the world
//! may not have) is a candidate for every event, so that it fails exactly
//! where walking every rule would make it fail.
//!
//! Evaluating intersects the bitsets of the event's slots, one 64-rule word
//! at a time, and tests the candidates in file order with the full condition:
//! the first that holds decides, exactly as in a walk over every rule. The
//! explaining path does not use the index; it walks every rule to say why
//! each earlier one did not apply.

use std::time::{Duration, Instant};

use hashbrown::HashMap;

use crate::rules::condition::{Cond, Op, SetExpr, Test};
use crate::rules::facts::{Ctx, Fact, FactType};
use crate::rules::IndexStats;

/// How one dimension reads its slot from an event.
#[derive(Debug, Clone)]
enum Key {
    /// A yes/no fact: slot 0 no, slot 1 yes.
    Bool(Fact),
    /// A word fact: the word's position in its list.
    Word(Fact),
    /// The size of a set fact: slots `0..cap` are exact sizes, slot `cap`
    /// stands for `cap` or more.
    Count(Fact, usize),
    /// A location fact: slot 0 absent, slot 1 a location no rule names,
    /// slot `2 + k` the `k`th id the rules name.
    Location(Fact, HashMap<String, usize>),
    /// An account fact, read like a location fact.
    Account(Fact, HashMap<String, usize>),
}

impl Key {
    /// How many slots the dimension has.
    fn slots(&self) -> usize {
        match self {
            Key::Bool(_) => 2,
            Key::Word(f) => match f.info().ty {
                FactType::Enum(words) => words.len(),
                _ => 1,
            },
            Key::Count(_, cap) => cap + 1,
            Key::Location(_, ids) | Key::Account(_, ids) => ids.len() + 2,
        }
    }

    fn fact(&self) -> Fact {
        match self {
            Key::Bool(f) | Key::Word(f) | Key::Count(f, _) | Key::Location(f, _) | Key::Account(f, _) => *f,
        }
    }

    /// The event's slot in this dimension.
    #[inline]
    fn slot(&self, ctx: &Ctx) -> usize {
        match self {
            Key::Bool(f) => ctx.bool(*f) as usize,
            Key::Word(f) => ctx.word(*f) as usize,
            Key::Count(f, cap) => ctx.set(*f).len().min(*cap),
            Key::Location(f, ids) => match ctx.location(*f) {
                None => 0,
                Some(_) if ids.is_empty() => 1,
                Some(l) => ids.get(ctx.world.loc_id(l)).map_or(1, |k| k + 2),
            },
            Key::Account(f, ids) => match ctx.account(*f) {
                None => 0,
                Some(_) if ids.is_empty() => 1,
                Some(a) => ids.get(ctx.world.accounts[a as usize].id.as_str()).map_or(1, |k| k + 2),
            },
        }
    }
}

/// The fewest rules a policy needs to be indexed. A chosen bound, not a
/// measured crossover: it keeps the walk for the shipped outbound policy
/// (four channel rules, two text rules), whose benchmark stays as it was,
/// and indexes the shipped inbound policy (nine rules), measured no slower
/// with the index than without (README, "The rule index").
pub(crate) const MIN_RULES: usize = 8;

/// The largest count a rule may test and still be indexed by size: sizes
/// above it share one slot, and a test of a larger count leaves the
/// dimension open.
const MAX_COUNT_SLOTS: usize = 64;

/// The index of one first-match policy.
#[derive(Debug, Clone)]
pub(crate) struct RuleIndex {
    keys: Vec<Key>,
    /// Where each dimension's first slot starts in `bits`, in slots.
    first_slot: Vec<usize>,
    /// 64-rule words per bitset.
    words: usize,
    /// For every slot of every dimension, the rules that may hold there.
    bits: Vec<u64>,
    /// The number of rules.
    rules: usize,
    /// For each rule, whether evaluating it can fail ([`Cond::can_fail`]).
    can_fail: Vec<bool>,
    /// How long building it took.
    build_time: Duration,
}

/// What a condition needs of the event's slots to give an answer: nothing
/// at all (it cannot give it), or a set of slots per dimension (`None`: any).
#[derive(Debug, Clone)]
enum Space {
    Never,
    Slots(Vec<Option<Slots>>),
}

/// A set of slots of one dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Slots(Vec<bool>);

impl Slots {
    fn is_empty(&self) -> bool {
        !self.0.contains(&true)
    }
}

impl Space {
    fn any(dims: usize) -> Space {
        Space::Slots(vec![None; dims])
    }

    /// Both at once: the slots each dimension allows in both.
    fn and(self, other: Space) -> Space {
        let (Space::Slots(mut a), Space::Slots(b)) = (self, other) else {
            return Space::Never;
        };
        for (x, y) in a.iter_mut().zip(b) {
            *x = match (x.take(), y) {
                (None, y) => y,
                (x, None) => x,
                (Some(Slots(p)), Some(Slots(q))) => {
                    let s = Slots(p.iter().zip(&q).map(|(p, q)| *p && *q).collect());
                    if s.is_empty() {
                        return Space::Never;
                    }
                    Some(s)
                }
            };
        }
        Space::Slots(a)
    }

    /// Either one: the slots each dimension allows in either (a box around
    /// both, which may admit more events than either; never fewer).
    fn or(self, other: Space) -> Space {
        match (self, other) {
            (Space::Never, s) | (s, Space::Never) => s,
            (Space::Slots(mut a), Space::Slots(b)) => {
                for (x, y) in a.iter_mut().zip(b) {
                    *x = match (x.take(), y) {
                        (Some(Slots(p)), Some(Slots(q))) => {
                            Some(Slots(p.iter().zip(&q).map(|(p, q)| *p || *q).collect()))
                        }
                        _ => None,
                    };
                }
                Space::Slots(a)
            }
        }
    }
}

/// What a test gives at one slot of its fact's dimension.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Truth {
    Yes,
    No,
    /// It depends on more than the slot.
    Maybe,
}

fn truth(b: bool) -> Truth {
    if b {
        Truth::Yes
    } else {
        Truth::No
    }
}

impl RuleIndex {
    /// Builds the index of a policy's conditions, in file order. `None` when
    /// no rule tests a discrete fact, as then every rule is a candidate.
    pub(crate) fn build<'a>(conds: impl IntoIterator<Item = &'a Cond>) -> Option<RuleIndex> {
        let started = Instant::now();
        let conds: Vec<&Cond> = conds.into_iter().collect();
        let keys = keys_of(&conds);
        if keys.is_empty() {
            return None;
        }
        let mut first_slot = Vec::with_capacity(keys.len());
        let mut slots = 0;
        for k in &keys {
            first_slot.push(slots);
            slots += k.slots();
        }
        let words = conds.len().div_ceil(64);
        let mut index = RuleIndex {
            keys,
            first_slot,
            words,
            bits: vec![0; slots * words],
            rules: conds.len(),
            can_fail: conds.iter().map(|c| c.can_fail()).collect(),
            build_time: Duration::ZERO,
        };
        for (r, cond) in conds.iter().enumerate() {
            let space = if index.can_fail[r] {
                Space::any(index.keys.len())
            } else {
                index.space(cond, true)
            };
            let Space::Slots(dims) = space else {
                continue; // It can never hold: no slot admits it.
            };
            for (d, allowed) in dims.iter().enumerate() {
                for s in 0..index.keys[d].slots() {
                    if allowed.as_ref().is_none_or(|a| a.0[s]) {
                        index.bits[(index.first_slot[d] + s) * words + r / 64] |= 1 << (r % 64);
                    }
                }
            }
        }
        index.build_time = started.elapsed();
        Some(index)
    }

    /// What the index reads and costs.
    pub(crate) fn stats(&self) -> IndexStats {
        IndexStats {
            facts: self.keys.len(),
            slots: self.keys.iter().map(Key::slots).sum(),
            bytes: self.bits.len() * 8,
            build_time: self.build_time,
        }
    }

    /// The first rule, in file order, among those the event's slots admit,
    /// for which `holds` says yes; `holds` is called on candidates only, in
    /// order, with whether the rule can fail, and its first error is
    /// returned as it is.
    #[inline]
    pub(crate) fn first<E>(
        &self,
        ctx: &Ctx,
        mut holds: impl FnMut(usize, bool) -> Result<bool, E>,
    ) -> Result<Option<usize>, E> {
        let mut rows = [0usize; 16];
        let mut heap = Vec::new();
        let rows: &mut [usize] = if self.keys.len() <= rows.len() {
            &mut rows[..self.keys.len()]
        } else {
            heap.resize(self.keys.len(), 0);
            &mut heap
        };
        for ((row, key), first) in rows.iter_mut().zip(&self.keys).zip(&self.first_slot) {
            *row = (first + key.slot(ctx)) * self.words;
        }
        for w in 0..self.words {
            let mut m = if w + 1 == self.words && self.rules % 64 != 0 {
                (1u64 << (self.rules % 64)) - 1
            } else {
                !0
            };
            for row in rows.iter() {
                m &= self.bits[row + w];
            }
            while m != 0 {
                let r = w * 64 + m.trailing_zeros() as usize;
                if holds(r, self.can_fail[r])? {
                    return Ok(Some(r));
                }
                m &= m - 1;
            }
        }
        Ok(None)
    }

    fn dim(&self, fact: Fact) -> Option<usize> {
        self.keys.iter().position(|k| k.fact() == fact)
    }

    /// The slots under which `cond` can give `want`.
    fn space(&self, cond: &Cond, want: bool) -> Space {
        let dims = self.keys.len();
        match cond {
            Cond::Always => match want {
                true => Space::any(dims),
                false => Space::Never,
            },
            Cond::Script(_) => Space::any(dims),
            Cond::Not(c) => self.space(c, !want),
            // `all` is true when every part is, false when any part is.
            Cond::All(parts) if want => parts.iter().fold(Space::any(dims), |s, p| s.and(self.space(p, true))),
            Cond::All(parts) => parts.iter().fold(Space::Never, |s, p| s.or(self.space(p, false))),
            // `any` is true when any part is, false when every part is.
            Cond::Any(parts) if want => parts.iter().fold(Space::Never, |s, p| s.or(self.space(p, true))),
            Cond::Any(parts) => parts.iter().fold(Space::any(dims), |s, p| s.and(self.space(p, false))),
            Cond::Test(t) => {
                let mut space = Space::any(dims);
                if let Some(d) = self.dim(t.fact) {
                    let key = &self.keys[d];
                    let allowed = (0..key.slots())
                        .map(|s| {
                            let at = test_at(t, key, s);
                            at == Truth::Maybe || at == truth(want)
                        })
                        .collect();
                    space = space.and(self.only(d, Slots(allowed)));
                }
                // A set test that needs another fact to be non-empty.
                for g in operand_needs(t, want) {
                    let emptiable =
                        |d: &usize| matches!(self.keys[*d], Key::Count(..) | Key::Location(..) | Key::Account(..));
                    if let Some(d) = self.dim(g).filter(emptiable) {
                        let allowed = (0..self.keys[d].slots()).map(|s| s != 0).collect();
                        space = space.and(self.only(d, Slots(allowed)));
                    }
                }
                space
            }
        }
    }

    /// The space that allows `slots` in dimension `d` and anything elsewhere.
    fn only(&self, d: usize, slots: Slots) -> Space {
        if slots.is_empty() {
            return Space::Never;
        }
        let mut out = vec![None; self.keys.len()];
        out[d] = Some(slots);
        Space::Slots(out)
    }
}

/// The facts other than its own that test `t` needs to be non-empty (a set
/// with a location in it, or a location or account that is there) to give
/// `want`: `shares_any_with: staff.locations` cannot hold when the staff
/// member's set is empty, nor `in: staff.locations`.
fn operand_needs(t: &Test, want: bool) -> Vec<Fact> {
    match (&t.op, want) {
        (Op::In(set) | Op::SharesAnyWith(set), true) | (Op::SharesNoneWith(set) | Op::Contains(set), false) => {
            nonempty_needs(set)
        }
        (Op::SameAs(g), true) => vec![*g],
        _ => Vec::new(),
    }
}

/// The facts that must be non-empty for `set` to be non-empty.
fn nonempty_needs(set: &SetExpr) -> Vec<Fact> {
    match set {
        SetExpr::Fact(g) => vec![*g],
        // An intersection is empty as soon as one part is.
        SetExpr::Intersection(parts) => parts.iter().flat_map(nonempty_needs).collect(),
        SetExpr::Union(_) | SetExpr::Literal(_) | SetExpr::Script(_) => Vec::new(),
    }
}

/// What test `t` gives when its fact is in slot `s` of `key`.
fn test_at(t: &Test, key: &Key, s: usize) -> Truth {
    match (key, &t.op) {
        (Key::Bool(_), Op::Bool(b)) => truth((s == 1) == *b),
        (Key::Word(_), Op::Word(w)) => truth(s == *w as usize),
        (Key::Word(_), Op::OneOf(mask)) => truth(mask & (1 << s) != 0),
        (Key::Count(_, cap), op) => {
            // Slot `cap` holds every size from `cap` up; every indexed count
            // is below `cap`.
            let exact = (s < *cap).then_some(s);
            match op {
                Op::Count(n) => truth(exact == Some(*n)),
                Op::CountAtLeast(n) => truth(exact.is_none_or(|len| len >= *n)),
                Op::CountAtMost(n) => truth(exact.is_some_and(|len| len <= *n)),
                // An empty set shares nothing and contains only the empty set.
                Op::SharesAnyWith(_) if s == 0 => Truth::No,
                Op::SharesNoneWith(_) if s == 0 => Truth::Yes,
                _ => Truth::Maybe,
            }
        }
        (Key::Location(_, ids) | Key::Account(_, ids), op) => {
            let present = s != 0;
            match op {
                Op::Present(p) => truth(present == *p),
                Op::LocationIs(id) | Op::AccountIs(id) => {
                    truth(s >= 2 && ids.get(id.as_str()).is_some_and(|k| k + 2 == s))
                }
                // Both need the fact to be there; then they depend on more.
                Op::In(_) | Op::SameAs(_) if !present => Truth::No,
                _ => Truth::Maybe,
            }
        }
        _ => Truth::Maybe,
    }
}

/// The dimensions a policy's conditions call for, in the order their facts
/// are first tested.
fn keys_of(conds: &[&Cond]) -> Vec<Key> {
    let mut keys: Vec<Key> = Vec::new();
    // A count test too large to index closes the dimension for good.
    let mut unindexed_counts: Vec<Fact> = Vec::new();
    for cond in conds {
        cond.visit_tests(&mut |t: &Test| {
            let f = t.fact;
            let found = keys.iter().position(|k| k.fact() == f);
            let new = match (f.info().ty, &t.op) {
                (FactType::Bool, Op::Bool(_)) => Some(Key::Bool(f)),
                (FactType::Enum(_), Op::Word(_) | Op::OneOf(_)) => Some(Key::Word(f)),
                (FactType::LocationSet, Op::Count(n) | Op::CountAtLeast(n) | Op::CountAtMost(n)) => {
                    if *n + 1 > MAX_COUNT_SLOTS || unindexed_counts.contains(&f) {
                        unindexed_counts.push(f);
                        keys.retain(|k| k.fact() != f);
                        return;
                    }
                    match found.map(|i| &mut keys[i]) {
                        Some(Key::Count(_, cap)) => {
                            *cap = (*cap).max(n + 1);
                            return;
                        }
                        _ => Some(Key::Count(f, n + 1)),
                    }
                }
                (FactType::Location, Op::Present(_) | Op::In(_) | Op::SameAs(_) | Op::LocationIs(_)) => {
                    let id = match &t.op {
                        Op::LocationIs(id) => Some(id),
                        _ => None,
                    };
                    let i = match found {
                        Some(i) => i,
                        None => {
                            keys.push(Key::Location(f, HashMap::new()));
                            keys.len() - 1
                        }
                    };
                    if let (Some(id), Key::Location(_, ids)) = (id, &mut keys[i]) {
                        let next = ids.len();
                        ids.entry(id.clone()).or_insert(next);
                    }
                    return;
                }
                (FactType::Account, Op::Present(_) | Op::SameAs(_) | Op::AccountIs(_)) => {
                    let i = match found {
                        Some(i) => i,
                        None => {
                            keys.push(Key::Account(f, HashMap::new()));
                            keys.len() - 1
                        }
                    };
                    if let (Op::AccountIs(id), Key::Account(_, ids)) = (&t.op, &mut keys[i]) {
                        let next = ids.len();
                        ids.entry(id.clone()).or_insert(next);
                    }
                    return;
                }
                _ => None,
            };
            if let (Some(k), None) = (new, found) {
                keys.push(k);
            }
        });
    }
    // Whether a set is empty, or a location or account absent, decides some
    // set tests: give those facts a dimension too.
    let mut emptiable: Vec<Fact> = Vec::new();
    for cond in conds {
        cond.visit_tests(&mut |t: &Test| {
            if matches!(t.op, Op::SharesAnyWith(_) | Op::SharesNoneWith(_) | Op::Contains(_)) {
                emptiable.push(t.fact);
            }
            emptiable.extend(operand_needs(t, true));
            emptiable.extend(operand_needs(t, false));
        });
    }
    for g in emptiable {
        if keys.iter().any(|k| k.fact() == g) || unindexed_counts.contains(&g) {
            continue;
        }
        match g.info().ty {
            FactType::LocationSet => keys.push(Key::Count(g, 1)),
            FactType::Location => keys.push(Key::Location(g, HashMap::new())),
            FactType::Account => keys.push(Key::Account(g, HashMap::new())),
            _ => {}
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use crate::diag::Source;
    use crate::engine::inbound_ctx;
    use crate::rules::{RuleSet, SHIPPED};
    use crate::world::World;
    use crate::InboundRequest;

    const WORLD: &str = include_str!("../../examples/glow-world.yaml");

    /// The rules the index hands to the engine for one event, in order.
    fn candidates(inbound: &str, request: InboundRequest) -> Vec<String> {
        let world = World::parse(Source::new("world.yaml", WORLD)).unwrap();
        let [_, d, o] = SHIPPED.map(|(n, t)| Source::new(n, t));
        let rules = RuleSet::parse(Source::new("inbound.yaml", inbound.to_owned()), d, o).unwrap();
        let policy = &rules.inbound.rules;
        let index = super::RuleIndex::build(policy.rules.iter().map(|r| &r.when)).expect("indexed");
        let ev = request.resolve(&world).unwrap();
        let ctx = inbound_ctx(&world, &ev);
        let mut seen = Vec::new();
        let decided = index
            .first(&ctx, |i, _| {
                seen.push(policy.rules[i].id.clone());
                Ok::<_, ()>(false)
            })
            .unwrap();
        assert_eq!(decided, None, "the closure never says yes");
        seen
    }

    fn policy(rules: &[(&str, &str)]) -> String {
        let mut s = String::from("policy: inbound\ndescription: t\nrules:\n");
        for (id, when) in rules {
            s.push_str(&format!(
                "  - id: {id}\n    description: t\n    when: {when}\n    lands_at: client.locations\n"
            ));
        }
        s.push_str("  - id: last\n    description: t\n    when: always\n    lands_at: client.locations\n");
        s
    }

    fn answering(kind: &str) -> InboundRequest {
        InboundRequest {
            client: "cleo".into(),
            answering: Some(format!("{kind}@A")),
            ..Default::default()
        }
    }

    #[test]
    fn an_event_is_tested_only_against_rules_its_words_and_ids_admit() {
        let p = policy(&[
            ("staff", "{conversation.started_by: staff}"),
            (
                "campaign-at-a",
                "{all: [conversation.answering: campaign, conversation.answered_location: A]}",
            ),
            (
                "confirmation-at-b",
                "{all: [conversation.answering: confirmation, conversation.answered_location: B]}",
            ),
            (
                "confirmation-at-a",
                "{all: [conversation.answering: confirmation, conversation.answered_location: A]}",
            ),
            ("not-staff", "{not: {conversation.started_by: staff}}"),
        ]);
        assert_eq!(
            candidates(&p, answering("confirmation")),
            ["confirmation-at-a", "not-staff", "last"]
        );
        assert_eq!(
            candidates(&p, answering("campaign")),
            ["campaign-at-a", "not-staff", "last"]
        );
    }

    #[test]
    fn counts_presence_and_empty_sets_are_indexed_and_other_set_tests_left_to_the_rule() {
        // cleo has two locations and a last appointment at A; a client wrote
        // first, so there is no staff member and `staff.locations` is empty.
        let p = policy(&[
            ("one-location", "{client.locations: {count: 1}}"),
            ("two-or-more", "{client.locations: {count_at_least: 2}}"),
            ("no-history", "{client.last_appointment: {present: false}}"),
            ("history-in-staff", "{client.last_appointment: {in: staff.locations}}"),
            (
                "shares-with-staff",
                "{client.locations: {shares_any_with: staff.locations}}",
            ),
            (
                "same-as-started-from",
                "{client.last_appointment: {same_as: conversation.started_from}}",
            ),
            (
                "not-a-client-there",
                "{not: {conversation.answered_location: {in: client.locations}}}",
            ),
        ]);
        assert_eq!(
            candidates(&p, answering("reminder")),
            ["two-or-more", "not-a-client-there", "last"]
        );
    }

    #[test]
    fn a_rule_that_could_fail_is_tested_for_every_event() {
        let p = policy(&[
            (
                "script-for-staff",
                "{all: [conversation.started_by: staff, {rhai: \"client.guest_app\"}]}",
            ),
            (
                "literal-for-staff",
                "{all: [conversation.started_by: staff, client.locations: {shares_any_with: [A, Q]}]}",
            ),
            ("plain-for-staff", "{conversation.started_by: staff}"),
        ]);
        assert_eq!(
            candidates(&p, answering("other")),
            ["script-for-staff", "literal-for-staff", "last"]
        );
    }

    #[test]
    fn a_rule_that_can_never_hold_is_never_a_candidate() {
        let p = policy(&[
            (
                "contradiction",
                "{all: [conversation.started_by: staff, conversation.started_by: client]}",
            ),
            ("never", "{not: always}"),
        ]);
        assert_eq!(candidates(&p, answering("other")), ["last"]);
    }
}
