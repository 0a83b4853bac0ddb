//! The README is the one place where the facts and tests are documented: it
//! must name every fact of the catalogue and every test the loader accepts.

use commroute::rules::facts::Fact;

#[test]
fn readme_documents_every_fact() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    for f in Fact::ALL {
        let row = format!("| `{}` |", f.name());
        assert!(
            readme.contains(&row),
            "README's fact table has no row for `{}`",
            f.name()
        );
    }
}

#[test]
fn readme_documents_every_test_and_form() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    for word in [
        "one_of",
        "present",
        "in:",
        "same_as",
        "count:",
        "count_at_least",
        "count_at_most",
        "shares_any_with",
        "shares_none_with",
        "contains",
        "intersection",
        "union",
        "rhai:",
        "always",
        "all:",
        "any:",
        "not:",
    ] {
        let documented = readme.contains(&format!("`{word}")) || readme.contains(&format!("`{{{word}"));
        assert!(documented, "README does not document `{word}`");
    }
}
