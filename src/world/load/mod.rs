//! Reading a world from YAML: a world file (its clients streamed as they
//! are parsed), a text, or a node inside another document (a scenario's
//! inline world).
//!
//! This module reads entries and reports what is wrong with them as
//! written; resolving references and building indexes is shared with the
//! in-memory builder and lives in `resolve.rs`.

mod entries;

use std::path::Path;

use marked_yaml::Node;

use crate::diag::{Diagnostic, Diagnostics, Pos, Source};
use crate::world::clients::ClientEntries;
use crate::world::resolve::{resolve_world, Sections};
use crate::world::World;
use crate::yaml::{self, Doc};

use entries::{list_items, read_accounts, read_client_entry, read_locations, read_staff};

const TOP_KEYS: &[&str] = &["accounts", "locations", "staff", "clients"];

impl World {
    /// Loads and validates a world file. Every problem is reported at once,
    /// each with the line it is about.
    pub fn load(path: &Path) -> Result<World, Diagnostics> {
        // The file is opened once: a pipe opened a second time waits for a
        // writer that may be long gone.
        let (mut file, meta) = Source::open(path)?;
        // Most worlds are valid: a regular file is read as it is parsed,
        // holding neither its text nor a tree of its clients. A world with
        // any problem is read again, from the start of the same open file,
        // with its text at hand, so that every message shows the line it is
        // about. A pipe or a device cannot be read twice: it is read whole.
        if meta.is_file() && meta.len() <= crate::diag::MAX_FILE_SIZE {
            if let Some(world) = World::read_streaming(path, &mut file) {
                return Ok(world);
            }
            std::io::Seek::rewind(&mut file).map_err(|e| {
                Diagnostics::from(Diagnostic::new(
                    path,
                    Pos::default(),
                    format!("cannot read the file: {e}"),
                ))
            })?;
        }
        World::parse(Source::from_file(path, &mut file, &meta)?)
    }

    /// Reads a world file as it is parsed; `None` on any problem.
    fn read_streaming(path: &Path, file: &mut std::fs::File) -> Option<World> {
        World::read_with_streamed_clients(&Source::new(path, ""), |stream| {
            Doc::parse_file_streaming(path, file, Some(stream)).ok_or_else(Diagnostics::default)
        })
        .ok()
    }

    /// Parses and validates a world from its text.
    pub fn parse(source: Source) -> Result<World, Diagnostics> {
        let src = source.clone();
        World::read_with_streamed_clients(&src, move |stream| Doc::parse_streaming(source, Some(stream)))
    }

    /// Parses with `parse`, which hands the entries of `clients:` over as
    /// they are read (a large world is mostly clients: no tree of the
    /// whole list is ever built), then reads the rest of the world.
    fn read_with_streamed_clients(
        source: &Source,
        parse: impl FnOnce(yaml::Stream<'_>) -> Result<(Doc, Node), Diagnostics>,
    ) -> Result<World, Diagnostics> {
        let mut clients = ClientEntries::new(source);
        let mut sink = |item: Node| read_client_entry(&mut clients, &item);
        let (mut doc, node) = parse(yaml::Stream {
            key: "clients",
            sink: &mut sink,
        })?;
        let world = read_world(&mut doc, &node, Some(clients));
        drop(node);
        // This drops the file's text too: nothing reads it any more.
        doc.finish(())?;
        let world = world.expect("a world is built whenever no problem was recorded");
        Ok(world)
    }

    /// Reads a world from a node inside another document (a scenario's inline world).
    pub(crate) fn from_node(doc: &mut Doc, node: &Node) -> Option<World> {
        let before = doc.diags.len();
        let world = read_world(doc, node, None)?;
        if doc.diags.len() > before {
            return None;
        }
        Some(world)
    }
}

/// Reads every section of the world at `node`, then resolves it. The
/// clients may have been streamed already (`streamed`); their problems join
/// the others after the staff's.
fn read_world(doc: &mut Doc, node: &Node, streamed: Option<ClientEntries>) -> Option<World> {
    let top = doc.mapping(node, "a world", None)?;
    doc.check_keys(top, TOP_KEYS, "a world", None);
    let accounts = read_accounts(doc, top);
    let locations = read_locations(doc, top);
    let staff = read_staff(doc, top);
    let mut clients = streamed.unwrap_or_else(|| ClientEntries::new(&doc.source));
    if let Some(seq) = list_items(doc, top, "clients", "client", true) {
        for item in seq.iter() {
            read_client_entry(&mut clients, item);
        }
    }
    doc.diags.0.append(&mut clients.doc.diags.0);
    resolve_world(
        doc,
        Sections {
            accounts,
            locations,
            staff,
            clients,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "
accounts:
  - {id: glow-group, name: Glow Group, country: US}
  - {id: glow-downtown, name: Glow Downtown, parent: glow-group}
locations:
  - {id: B, name: Uptown, account: glow-downtown}
  - {id: A, name: Downtown, account: glow-downtown}
staff:
  - {id: sam, name: Sam, locations: [A, B], logged_in_at: B}
clients:
  - id: cleo
    name: Cleo
    account: glow-downtown
    locations: [B, A]
    last_appointment_at: A
    phone: (650) 253-0000
    sms_opt_in: true
";

    #[test]
    fn loads_and_numbers_in_id_order() {
        let w = World::parse(Source::new("w.yaml", GOOD)).unwrap();
        assert_eq!(w.loc_id(0), "A");
        assert_eq!(w.location("B"), Some(1));
        let cleo = &w.clients[0];
        assert_eq!(cleo.locations.as_slice(), &[0, 1]);
        assert!(cleo.contact.get().is_none(), "phone numbers are validated on first ask");
        assert_eq!(w.contact(0).phone_e164.as_deref(), Some("+16502530000"));
        assert!(cleo.contact.get().is_some(), "and the answer is kept");
        assert!(w.accounts[w.account("glow-group").unwrap() as usize].global);
        assert_eq!(w.staff_with_access(0), &[0]);
        assert_eq!(w.staff[0].access.as_slice(), &[0, 1]);
    }

    #[test]
    fn reports_every_problem_at_once() {
        let bad = GOOD
            .replace("logged_in_at: B", "logged_in_at: C")
            .replace("last_appointment_at: A", "last_appointment_at: Q")
            + "  - {id: cleo, name: Twin, account: nope, locations: []}\n";
        let err = World::parse(Source::new("w.yaml", bad)).unwrap_err();
        let messages: Vec<&str> = err.0.iter().map(|d| d.message.as_str()).collect();
        assert!(messages.contains(&"unknown location `C`"), "{err}");
        assert!(messages.contains(&"unknown location `Q`"), "{err}");
        assert!(messages.contains(&"duplicate id `cleo`"), "{err}");
        assert!(messages.contains(&"unknown account `nope`"), "{err}");
    }

    /// Reads the same text the way a world file is read (clients streamed)
    /// and the way an inline world is read (from a tree).
    fn both_ways(text: &str) -> (Result<World, Diagnostics>, Result<World, Diagnostics>) {
        let streamed = World::parse(Source::new("w.yaml", text.to_owned()));
        let tree = Doc::parse(Source::new("w.yaml", text.to_owned())).and_then(|(mut doc, node)| {
            let world = World::from_node(&mut doc, &node);
            doc.finish(())?;
            Ok(world.unwrap())
        });
        (streamed, tree)
    }

    #[test]
    fn streamed_clients_match_the_tree_reading() {
        // Clients first: the streamed entries are resolved once the rest is read.
        let clients_first = format!(
            "clients:{}\naccounts:{}",
            GOOD.split("clients:").nth(1).unwrap().trim_end(),
            GOOD.split("clients:")
                .next()
                .unwrap()
                .split("accounts:")
                .nth(1)
                .unwrap()
        );
        for text in [GOOD.to_owned(), clients_first] {
            let (streamed, tree) = both_ways(&text);
            let (streamed, tree) = (streamed.unwrap(), tree.unwrap());
            assert_eq!(streamed.clients.len(), 1);
            let (a, b) = (&streamed.clients[0], &tree.clients[0]);
            assert_eq!(
                (a.id.as_str(), a.account, a.locations.as_slice()),
                ("cleo", 0, &[0, 1][..])
            );
            assert_eq!(
                (&a.id, a.account, &a.locations, a.last_appointment, streamed.contact(0)),
                (&b.id, b.account, &b.locations, b.last_appointment, tree.contact(0))
            );
        }
    }

    #[test]
    fn streamed_clients_report_the_same_problems_in_the_same_order() {
        let bad = GOOD
            .replace("logged_in_at: B", "logged_in_at: C")
            .replace("last_appointment_at: A", "last_appointment_at: Q")
            + "  - {id: cleo, name: Twin, account: nope, locations: [], colour: red}\n"
            + "  - {id: zed, name: Zed, account: glow-downtown, locations: [Z], sms_opt_in: maybe}\n"
            + "  - {name: No Id}\n"
            + "  - just a string\n";
        let (streamed, tree) = both_ways(&bad);
        let (streamed, tree) = (streamed.unwrap_err().to_string(), tree.unwrap_err().to_string());
        assert_eq!(streamed, tree);
        for expected in [
            "unknown key `colour` in a client",
            "`sms_opt_in` must be `true` or `false`, found `maybe`",
            "this client has no `id`",
            "each entry of `clients` must be a mapping",
            "duplicate id `cleo`",
            "unknown account `nope`",
            "unknown location `Z`",
            "unknown location `Q`",
            "a client needs at least one location",
        ] {
            assert!(streamed.contains(expected), "missing {expected:?} in:\n{streamed}");
        }
    }

    #[test]
    fn one_mistyped_key_in_an_entry_is_one_error_not_eleven() {
        // The entry keeps its id: the staff and clients at `A` are not
        // reported, nor is `account` as missing.
        let text = "
accounts: [{id: g, name: Glow}]
locations:
  - {id: A, name: Downtown, acount: g}
staff:
  - {id: sam, name: Sam, locations: [A], logged_in_at: A}
  - {id: rita, name: Rita, locations: [A]}
clients:
  - {id: cleo, name: Cleo, account: g, locations: [A], last_appointment_at: A}
  - {id: gwen, name: Gwen, account: g, locations: [A]}
  - {id: otto, name: Otto, acount: g, locations: [A]}
  - {id: otto, name: Otto Twin, account: g, locations: [A]}
";
        let (streamed, tree) = both_ways(text);
        for err in [streamed.unwrap_err(), tree.unwrap_err()] {
            let messages: Vec<&str> = err.0.iter().map(|d| d.message.as_str()).collect();
            assert_eq!(
                messages,
                [
                    "unknown key `acount` in a location",
                    "unknown key `acount` in a client",
                    "duplicate id `otto`"
                ],
                "{err}"
            );
        }
    }

    #[test]
    fn streamed_entries_keep_the_parser_checks() {
        let cases = [
            ("  - {id: x, id: y}\n", "the key `id` appears twice"),
            ("  - &a {id: x}\n", "anchors and aliases are not supported"),
            ("  - !tag {id: x}\n", "tags (`!name`) are not supported"),
            ("  - {id: x, [a]: b}\n", "a mapping key must be a single value"),
        ];
        for (entry, expected) in cases {
            let err = World::parse(Source::new("w.yaml", format!("{GOOD}{entry}"))).unwrap_err();
            assert!(err.to_string().contains(expected), "{entry:?}: {err}");
        }
        // A `clients` that is not a list is read from the tree, as before.
        let err = World::parse(Source::new("w.yaml", GOOD.replace("clients:", "clients: 3\nold:"))).unwrap_err();
        assert!(err.to_string().contains("`clients` must be a list"), "{err}");
    }

    #[test]
    fn a_world_file_read_as_it_is_parsed_matches_the_text_reading() {
        let dir = tempfile::tempdir().unwrap();
        let bad = GOOD.replace("account: glow-downtown\n    locations", "account: nope\n    locations");
        let cases: [(&str, Vec<u8>); 7] = [
            ("good", GOOD.as_bytes().to_vec()),
            ("bad reference", bad.into_bytes()),
            ("bad yaml", format!("{GOOD}  - {{id: x\n").into_bytes()),
            ("not utf-8", [GOOD.as_bytes(), b"  - {id: \xff}\n"].concat()),
            (
                "too deep",
                format!("{GOOD}  - {}{}\n", "[".repeat(100), "]".repeat(100)).into_bytes(),
            ),
            // After the first document: the parser never asks for these lines.
            ("not utf-8 later", [GOOD.as_bytes(), b"---\nx: \xff\n"].concat()),
            (
                "too deep later",
                format!("{GOOD}...\nx: {}{}\n", "[".repeat(100), "]".repeat(100)).into_bytes(),
            ),
        ];
        for (name, bytes) in cases {
            let path = dir.path().join("w.yaml");
            std::fs::write(&path, &bytes).unwrap();
            let loaded = World::load(&path);
            let parsed = Source::read(&path).and_then(World::parse);
            match (loaded, parsed) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(name, "good");
                    let ids = |w: &World| {
                        w.clients
                            .iter()
                            .map(|c| (c.id.clone(), w.contact_of(c).clone()))
                            .collect::<Vec<_>>()
                    };
                    assert_eq!(ids(&a), ids(&b));
                }
                (Err(a), Err(b)) => {
                    assert_ne!(name, "good");
                    // The same messages, with the line excerpts the text reading shows.
                    assert_eq!(a.to_string(), b.to_string(), "{name}");
                    assert!(a.0.iter().all(|d| d.snippet.is_some()), "{name}: {a}");
                }
                (a, b) => panic!("{name}: load {:?} but parse {:?}", a.is_ok(), b.is_ok()),
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_world_read_from_a_pipe_is_read_once() {
        // A problem makes a regular file be read a second time; a pipe is
        // opened once and read once. Opening it again waited forever for a
        // writer that had already gone (this test hung in CI): each try now
        // has a deadline, and many tries make the race show.
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let fifo = dir.path().join("world.fifo");
            let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
            assert!(made.success());
            let bad = GOOD.replace("account: glow-downtown\n    locations", "account: nope\n    locations");
            let writer = {
                let fifo = fifo.clone();
                std::thread::spawn(move || std::fs::write(fifo, bad).unwrap())
            };
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || drop(tx.send(World::load(&fifo).map(drop).map_err(|e| e.to_string()))));
            let err = rx
                .recv_timeout(std::time::Duration::from_secs(30))
                .expect("reading a world from a pipe hangs")
                .unwrap_err();
            writer.join().unwrap();
            assert!(err.contains("unknown account `nope`"), "{err}");
            assert!(!err.contains("no `accounts` list"), "{err}");
        }
    }
}
