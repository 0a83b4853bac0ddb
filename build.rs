//! Splits libphonenumber's metadata by region at build time, so loading a
//! world parses the rules of only the regions its numbers need (see
//! `src/contact.rs`). The XML is the one the `phonenumber` crate ships, read
//! with that crate's own loader.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use phonenumber::metadata::loader;

fn main() {
    let xml = "data/libphonenumber/PhoneNumberMetadata.xml";
    println!("cargo:rerun-if-changed={xml}");
    println!("cargo:rerun-if-changed=build.rs");
    let file = std::fs::File::open(xml).expect("the vendored libphonenumber metadata is present");
    let all = loader::load(std::io::BufReader::new(file)).expect("libphonenumber metadata loads");
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    // The regions of each code in the order `phonenumber`'s `Database::from`
    // gives them: the main country for the code first, then file order.
    // Validation asks them in this order and the first to claim a number wins.
    let mut by_code: BTreeMap<u16, Vec<loader::Metadata>> = BTreeMap::new();
    for mut meta in all {
        // Formats are only read when formatting national or international
        // forms, which commroute never does (it writes E.164 itself); parsing
        // and validation never read them, and they hold most of the patterns.
        meta.formats.clear();
        meta.international_formats.clear();
        let code = meta.country_code.expect("every territory has a calling code");
        let regions = by_code.entry(code).or_default();
        if meta.main_country_for_code {
            regions.insert(0, meta);
        } else {
            regions.push(meta);
        }
    }
    let mut regions = String::new();
    for (code, metas) in &by_code {
        for meta in metas {
            let id = meta.id.clone().expect("every territory has an id");
            let bytes = postcard::to_allocvec(meta).expect("metadata serialises");
            let name = format!("phone_{code}_{id}.bin");
            std::fs::write(Path::new(&out_dir).join(&name), bytes).unwrap();
            let leading = match &meta.leading_digits {
                Some(p) => format!("Some({p:?})"),
                None => "None".to_string(),
            };
            writeln!(
                regions,
                "    Region {{ id: {id:?}, code: {code}, leading_digits: {leading}, \
                 meta: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{name}\")) }},"
            )
            .unwrap();
        }
    }
    let src = format!(
        "/// Every region, by calling code, each code's regions in `Database` order.\n\
         pub static REGIONS: &[Region] = &[\n{regions}];\n"
    );
    std::fs::write(Path::new(&out_dir).join("phone_metadata.rs"), src).unwrap();
}
