//! Splits libphonenumber's metadata by country calling code at build time, so
//! loading a world parses the rules of only the codes its accounts use (see
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
    // Keep the file's order within each code: the first region of a code wins ties.
    let mut by_code: BTreeMap<u16, Vec<loader::Metadata>> = BTreeMap::new();
    let mut regions = String::new();
    for mut meta in all {
        // Formats are only read when formatting national or international
        // forms, which commroute never does (it writes E.164 itself); parsing
        // and validation never read them, and they hold most of the patterns.
        meta.formats.clear();
        meta.international_formats.clear();
        let code = meta.country_code.expect("every territory has a calling code");
        let id = meta.id.clone().expect("every territory has an id");
        writeln!(regions, "    ({id:?}, {code}),").unwrap();
        by_code.entry(code).or_default().push(meta);
    }
    let mut codes = String::new();
    for (code, metas) in &by_code {
        let bytes = postcard::to_allocvec(metas).expect("metadata serialises");
        let name = format!("phone_code_{code}.bin");
        std::fs::write(Path::new(&out_dir).join(&name), bytes).unwrap();
        writeln!(
            codes,
            "    ({code}, include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{name}\"))),"
        )
        .unwrap();
    }
    let src = format!(
        "/// Every region id and its calling code.\npub static REGIONS: &[(&str, u16)] = &[\n{regions}];\n\
         /// The metadata of every calling code (postcard, a `Vec<loader::Metadata>` each).\n\
         pub static CODES: &[(u16, &[u8])] = &[\n{codes}];\n"
    );
    std::fs::write(Path::new(&out_dir).join("phone_metadata.rs"), src).unwrap();
}
