//! Whether a client can be reached by SMS or email.
//!
//! Staff type phone numbers and emails by hand, so the raw strings in a world
//! file are what the engine sees. Validity is decided here, once per client when
//! the world loads, by real validators: libphonenumber's rules (the `phonenumber`
//! crate) for the account's country and an RFC 5321/5322 address check (the
//! `email_address` crate). Decisions then read two booleans.
//!
//! The `phonenumber` crate's default database checks the syntax of every
//! regular expression of all 254 territories the first time it is used, which
//! costs about 60 ms: most of a one-off `commroute route`. Even a database of
//! one calling code is costly for code 1, whose 25 regions (US, CA and 23
//! Caribbean and Pacific ones) all hold patterns. [`PhoneRules`] builds
//! databases of single regions instead, from the same libphonenumber metadata
//! (split by region at build time, see `build.rs`), and loads a region only
//! when a number needs it:
//!
//! * A number is parsed with a database of the rules' countries. Parsing
//!   reads the account country's metadata and only asks whether a calling
//!   code exists; calling codes are prefix-free, so a database of fewer codes
//!   finds the same code as the full one, or none. A number of a calling
//!   code none of the countries has (`+44 ...` in a world of US accounts)
//!   then fails with "invalid country code" and is read again with the full
//!   default database.
//! * Validity is decided the way `phonenumber::is_valid_with` decides it: the
//!   regions of the number's calling code are asked in the database's order
//!   (the code's main country first, then file order) and the first to claim
//!   the number decides whether it is valid. A region with leading digits
//!   claims a number they match at its start (checked here with the `regex`
//!   crate, compiled as `phonenumber` compiles them); one without claims a
//!   number that is one of its types, that is, exactly when the number is
//!   valid in a database of that region alone. A US number valid in the US
//!   loads the US region only; an invalid one also loads Canada's.
//!
//! Every answer is the one the full database gives; `tests/phone_subset.rs`
//! compares the two on generated numbers.

use std::sync::{Arc, Mutex, OnceLock};

use phonenumber::country;
use phonenumber::metadata::{loader, Database};

mod metadata {
    /// One region's libphonenumber metadata, split out by `build.rs`.
    pub struct Region {
        /// The region id (`US`, or `001` for a non-geographic code).
        pub id: &'static str,
        pub code: u16,
        /// The pattern a number must match at its start to belong to this
        /// region, for regions that share their calling code.
        pub leading_digits: Option<&'static str>,
        /// postcard, a `loader::Metadata`.
        pub meta: &'static [u8],
    }

    include!(concat!(env!("OUT_DIR"), "/phone_metadata.rs"));
}

use metadata::REGIONS;

/// The reachability facts of one client, derived from their raw contact data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    /// The phone number in E.164 form when it is a valid number.
    pub phone_e164: Option<compact_str::CompactString>,
    /// Whether the email address looks deliverable.
    pub email_valid: bool,
}

impl Contact {
    /// Whether the phone number is a valid number.
    pub fn phone_valid(&self) -> bool {
        self.phone_e164.is_some()
    }
}

/// libphonenumber's rules for the regions of some countries, each database
/// built on first use and shared by every world of the process (a test suite
/// loads hundreds of small worlds).
#[derive(Debug)]
pub struct PhoneRules {
    /// The countries' regions (indices into `REGIONS`, sorted); `None` when
    /// a country is not in the metadata, in which case the full default
    /// database is used.
    regions: Option<Vec<usize>>,
    /// Databases of its own, by regions, instead of the process-wide ones:
    /// a large world's validation drops its compiled patterns when done.
    own: Option<Databases>,
    /// The database numbers are parsed with: the countries' regions.
    parse_db: OnceLock<Option<Arc<Database>>>,
    /// The one-region databases numbers are validated with, by region.
    region_dbs: Box<[OnceLock<Option<Arc<Database>>>]>,
}

/// Databases built so far, by the regions they hold.
type Databases = Mutex<Vec<(Vec<usize>, Arc<Database>)>>;

/// The databases built so far in this process, by regions.
static SHARED: Databases = Mutex::new(Vec::new());

/// The leading-digit patterns of the regions, compiled on first use.
static LEADING: OnceLock<Box<[OnceLock<Option<regex::Regex>>]>> = OnceLock::new();

fn build_database(regions: &[usize]) -> Option<Database> {
    let metas = regions
        .iter()
        .map(|&r| postcard::from_bytes::<loader::Metadata>(REGIONS[r].meta).ok())
        .collect::<Option<Vec<_>>>()?;
    let db = Database::from(metas).ok()?;
    // The database's regex cache holds 100 compiled patterns; a region with
    // more would recompile them over and over. Hold them all.
    db.cache().lock().ok()?.set_capacity(1 << 16);
    Some(db)
}

/// The index in `REGIONS` of a country's region.
fn region_of(country: country::Id) -> Option<usize> {
    REGIONS.iter().position(|r| r.id == country.as_ref())
}

/// The regions of a calling code, in the order validation asks them.
fn regions_of_code(code: u16) -> std::ops::Range<usize> {
    let start = REGIONS.partition_point(|r| r.code < code);
    let end = REGIONS.partition_point(|r| r.code <= code);
    start..end
}

/// Whether a region's leading digits match at the start of a national number,
/// as `phonenumber`'s `source_for` asks it (the same `regex` crate, with
/// whitespace ignored like its `Database` compiles patterns).
fn leading_digits_match(region: usize, national: &str) -> Option<bool> {
    let pattern = REGIONS[region].leading_digits?;
    let all = LEADING.get_or_init(|| REGIONS.iter().map(|_| OnceLock::new()).collect());
    let re = all[region].get_or_init(|| regex::RegexBuilder::new(pattern).ignore_whitespace(true).build().ok());
    // An uncompilable pattern would have failed the full database's load.
    let re = re.as_ref()?;
    Some(re.find(national).is_some_and(|m| m.start() == 0))
}

impl PhoneRules {
    /// Rules able to read numbers written in any of these countries.
    pub fn for_countries(countries: impl IntoIterator<Item = country::Id>) -> PhoneRules {
        let mut regions = Vec::new();
        let mut known = true;
        for c in countries {
            match region_of(c) {
                Some(r) => regions.push(r),
                None => known = false,
            }
        }
        regions.sort_unstable();
        regions.dedup();
        PhoneRules {
            regions: known.then_some(regions),
            own: None,
            parse_db: OnceLock::new(),
            region_dbs: REGIONS.iter().map(|_| OnceLock::new()).collect(),
        }
    }

    /// The database of these regions, built or found in the cache.
    fn database(&self, regions: &[usize]) -> Option<Arc<Database>> {
        let mut cache = match &self.own {
            Some(own) => own.lock(),
            None => SHARED.lock(),
        }
        .unwrap_or_else(|e| e.into_inner());
        if let Some((_, db)) = cache.iter().find(|(r, _)| r == regions) {
            return Some(db.clone());
        }
        let db = Arc::new(build_database(regions)?);
        cache.push((regions.to_vec(), db.clone()));
        Some(db)
    }

    /// The one-region database of a region.
    fn region_database(&self, region: usize) -> Option<&Database> {
        self.region_dbs[region]
            .get_or_init(|| self.database(&[region]))
            .as_deref()
    }

    /// The database to parse a number typed in `country` with: the rules'
    /// countries when it is one of them, else its own region.
    fn parse_database(&self, regions: &[usize], country: usize) -> Option<&Database> {
        if regions.binary_search(&country).is_ok() {
            self.parse_db.get_or_init(|| self.database(regions)).as_deref()
        } else {
            self.region_database(country)
        }
    }

    /// Whether a parsed number is valid, the way `phonenumber::is_valid_with`
    /// decides it with the full database: the first region of its calling
    /// code that claims the number (by leading digits, or, for a region
    /// without them, by the number being one of its types) decides. A region
    /// claims by type exactly when the number is valid in a database of that
    /// region alone, so only the regions asked are ever loaded.
    fn is_valid(&self, number: &phonenumber::PhoneNumber) -> Option<bool> {
        let regions = regions_of_code(number.country().code());
        if regions.len() == 1 {
            let db = self.region_database(regions.start)?;
            return Some(phonenumber::is_valid_with(db, number));
        }
        let national = number.national().to_string();
        for region in regions {
            match leading_digits_match(region, &national) {
                Some(true) => {
                    let db = self.region_database(region)?;
                    return Some(phonenumber::is_valid_with(db, number));
                }
                Some(false) => {}
                None => {
                    let db = self.region_database(region)?;
                    if phonenumber::is_valid_with(db, number) {
                        return Some(true);
                    }
                }
            }
        }
        Some(false)
    }

    /// A phone number as typed, read for `country` when it has no `+` prefix.
    /// Returns its E.164 form when libphonenumber says it is a valid number.
    pub fn valid_phone(&self, raw: &str, country: country::Id) -> Option<String> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > 64 {
            return None;
        }
        let found = self.regions.as_deref().and_then(|regions| {
            let region = match regions.iter().find(|&&r| REGIONS[r].id == country.as_ref()) {
                Some(&r) => r,
                None => region_of(country)?,
            };
            self.parse_database(regions, region)
        });
        let Some(db) = found else {
            return valid_with_default(raw, country);
        };
        match phonenumber::parse_with(db, Some(country), raw) {
            Ok(number) => match self.is_valid(&number) {
                Some(valid) => valid.then(|| e164(&number)),
                None => valid_with_default(raw, country),
            },
            // Another calling code than the loaded ones: ask the full database.
            Err(phonenumber::ParseError::InvalidCountryCode) => valid_with_default(raw, country),
            Err(_) => None,
        }
    }

    /// Computes a client's contact facts.
    pub(crate) fn contact(&self, phone: Option<&str>, email: Option<&str>, country: country::Id) -> Contact {
        Contact {
            phone_e164: phone.and_then(|p| self.valid_phone(p, country)).map(Into::into),
            email_valid: email.is_some_and(valid_email),
        }
    }
}

/// Worlds with this many clients are validated with databases of their own.
const OWN_DATABASES_FROM: usize = 4_096;

/// Computes the contact facts of many items in place: `read` gives an
/// item's phone, email and the country to read the phone for, `write` stores
/// the facts. Nothing is copied.
///
/// This runs on one thread on purpose. A second thread needs databases of
/// its own (a database's regex cache is behind a lock), and the compiled
/// patterns and their search caches are the largest use of memory while a
/// large world loads: on the 100,000-client world two threads load in
/// 1.16 s at 89 MB peak, one in 1.5 s at 59 MB (targets: 2 s, 64 MB).
pub(crate) fn fill_contacts<T>(
    items: &[T],
    read: impl Fn(&T) -> (Option<&str>, Option<&str>, country::Id),
    write: impl Fn(&T, Contact),
    missing: impl Fn(&T) -> bool,
) {
    let todo = items.iter().filter(|i| missing(i)).count();
    if todo == 0 {
        return;
    }
    let countries: std::collections::HashSet<country::Id> =
        items.iter().filter(|i| missing(i)).map(|i| read(i).2).collect();
    let mut rules = PhoneRules::for_countries(countries);
    if todo >= OWN_DATABASES_FROM {
        // The patterns compiled for a large world, and their search caches,
        // are not kept for the rest of the process (a batch, a replay).
        rules.own = Some(Mutex::new(Vec::new()));
    }
    for item in items.iter().filter(|i| missing(i)) {
        let (phone, email, country) = read(item);
        let contact = rules.contact(phone, email, country);
        write(item, contact);
    }
}

/// The E.164 form, as `phonenumber`'s formatter writes it (`+` code national
/// number). Its formatter is not used here because it initialises the full
/// default database even when given another one.
fn e164(number: &phonenumber::PhoneNumber) -> String {
    format!("+{}{}", number.country().code(), number.national())
}

/// The same question asked of the `phonenumber` crate's full default database.
fn valid_with_default(raw: &str, country: country::Id) -> Option<String> {
    let number = phonenumber::parse(Some(country), raw).ok()?;
    phonenumber::is_valid(&number).then(|| number.format().mode(phonenumber::Mode::E164).to_string())
}

/// Parses an ISO 3166 country code such as `US` or `gb`.
pub(crate) fn parse_country(code: &str) -> Option<country::Id> {
    code.trim().to_ascii_uppercase().parse::<country::Id>().ok()
}

/// A phone number as typed, read for `country` when it has no `+` prefix.
/// Returns its E.164 form when libphonenumber says it is a valid number.
pub fn valid_phone(raw: &str, country: country::Id) -> Option<String> {
    PhoneRules::for_countries([country]).valid_phone(raw, country)
}

/// Whether an email address is syntactically valid and has a dotted domain
/// (mail to a bare host such as `user@localhost` never reaches a client).
pub(crate) fn valid_email(raw: &str) -> bool {
    let raw = raw.trim();
    if raw.len() > 254 {
        return false;
    }
    match raw.parse::<email_address::EmailAddress>() {
        Ok(addr) => {
            let domain = addr.domain();
            domain.contains('.') && !domain.starts_with('[') && !domain.ends_with('.')
        }
        Err(_) => false,
    }
}

/// Computes a client's contact facts.
pub(crate) fn contact(phone: Option<&str>, email: Option<&str>, country: country::Id) -> Contact {
    PhoneRules::for_countries([country]).contact(phone, email, country)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_in_every_usual_us_spelling_are_valid() {
        for raw in [
            "+1 650 253 0000",
            "(650) 253-0000",
            "650-253-0000",
            "6502530000",
            "+16502530000",
        ] {
            assert_eq!(
                valid_phone(raw, country::Id::US).as_deref(),
                Some("+16502530000"),
                "{raw}"
            );
        }
    }

    #[test]
    fn impossible_or_foreign_looking_phones_are_invalid() {
        for raw in ["555-0100", "123", "(000) 000-0000", "call me", "", "+1 650 253 00000"] {
            assert_eq!(valid_phone(raw, country::Id::US), None, "{raw}");
        }
    }

    #[test]
    fn national_numbers_are_read_for_the_accounts_country() {
        assert_eq!(
            valid_phone("020 7946 0018", country::Id::GB).as_deref(),
            Some("+442079460018")
        );
        assert_eq!(valid_phone("020 7946 0018", country::Id::US), None);
    }

    #[test]
    fn numbers_of_other_calling_codes_get_the_full_databases_answer() {
        let us = PhoneRules::for_countries([country::Id::US]);
        for raw in [
            "+44 20 7946 0018",
            "+33 1 42 68 53 00",
            "+44 20 7946",
            "+999 123 4567",
            "011 44 20 7946 0018",
        ] {
            assert_eq!(
                us.valid_phone(raw, country::Id::US),
                valid_with_default(raw, country::Id::US),
                "{raw}"
            );
        }
        assert_eq!(
            us.valid_phone("+44 20 7946 0018", country::Id::US).as_deref(),
            Some("+442079460018")
        );
    }

    #[test]
    fn the_small_database_agrees_with_the_full_one() {
        let rules = PhoneRules::for_countries([country::Id::US, country::Id::GB, country::Id::CA]);
        let samples = [
            "+1 650 253 0000",
            "(650) 253-0000",
            "555-0100",
            "(000) 000-0000",
            "+1 268 464 1234",
            "020 7946 0018",
            "07700 900123",
            "+44 7700 900123",
            "613-555-0143",
            "1-800-555-0199",
            "call me",
            "12",
            "+1 650 253 00000",
            "tel:+1-650-253-0000",
        ];
        // Valid elsewhere in NANPA (Antigua), typed as a US national number.
        assert_eq!(
            rules.valid_phone("(268) 464-1234", country::Id::US).as_deref(),
            Some("+12684641234")
        );
        // Numbers of every NANPA region and length, typed in every style.
        let mut rng = crate::generate::Rng::new(5);
        let mut extra: Vec<String> = Vec::new();
        for _ in 0..150 {
            let area = [201, 268, 242, 264, 345, 416, 613, 787, 876, 555, 800, 900][rng.below(12)];
            let n = rng.below(10_000_000);
            extra.push(format!("({area}) {:03}-{:04}", n / 10_000, n % 10_000));
            extra.push(format!("+1 {area} {n:07}"));
            extra.push(format!("{:0w$}", rng.next_u64() % 10u64.pow(11), w = 5 + rng.below(7)));
        }
        for country in [country::Id::US, country::Id::GB, country::Id::CA] {
            for raw in samples.iter().copied().chain(extra.iter().map(String::as_str)) {
                assert_eq!(
                    rules.valid_phone(raw, country),
                    valid_with_default(raw, country),
                    "{raw} in {country:?}"
                );
            }
        }
    }

    #[test]
    fn regions_of_each_code_are_in_the_full_databases_order() {
        let full = &*phonenumber::metadata::DATABASE;
        let mut codes: Vec<u16> = REGIONS.iter().map(|r| r.code).collect();
        codes.dedup();
        assert!(codes.windows(2).all(|w| w[0] < w[1]), "REGIONS is sorted by code");
        for code in codes {
            let ours: Vec<&str> = REGIONS[regions_of_code(code)].iter().map(|r| r.id).collect();
            assert_eq!(Some(ours), full.region(&code), "calling code {code}");
            for r in regions_of_code(code) {
                let theirs = full.by_id(REGIONS[r].id).unwrap().leading_digits();
                assert_eq!(
                    REGIONS[r].leading_digits,
                    theirs.map(|p| p.as_str()),
                    "{}",
                    REGIONS[r].id
                );
            }
        }
    }

    /// A database holding some of the calling codes finds the same code in a
    /// number as the full one, or none ("invalid country code", answered by
    /// the full database): no calling code is a prefix of another.
    #[test]
    fn calling_codes_are_prefix_free() {
        let codes: Vec<String> = REGIONS.iter().map(|r| r.code.to_string()).collect();
        for a in &codes {
            for b in &codes {
                assert!(a == b || !b.starts_with(a.as_str()), "{a} is a prefix of {b}");
            }
        }
    }

    #[test]
    fn emails() {
        assert!(valid_email("cleo@example.com"));
        assert!(valid_email("first.last+tag@sub.example.co.uk"));
        for bad in [
            "cleo@",
            "cleo.example.com",
            "cleo@@example.com",
            "cleo@localhost",
            "",
            "a b@example.com",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }
}
