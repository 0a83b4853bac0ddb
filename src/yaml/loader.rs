//! Turns the YAML parser's events into `marked_yaml` nodes, optionally
//! handing the items of one top-level list to a callback as they are read.
//!
//! This is the event handling of `marked_yaml`'s own loader (same nodes, same
//! positions, same errors: tags, anchors, non-scalar keys and duplicate keys
//! are refused) with one addition: a world's `clients:` list can hold a
//! hundred thousand entries, and keeping every entry's node tree costs about
//! 5 KB each, so a caller may take the entries one at a time instead
//! ([`Stream`]). The tree then holds an empty list at that key, with the
//! list's position. It also counts real nesting (collections as the parser
//! sees them, never brackets inside scalars or comments) and refuses a
//! second document, pulling the parser's events in a loop so that nothing
//! recurses.

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, MarkedSequenceNode};
use marked_yaml::{LoadError, Marker, Node, Span};
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::Marker as YamlMarker;

use super::MAX_DEPTH;

/// Where the entries of the top-level list `key` go, one by one.
pub struct Stream<'a> {
    /// The top-level key whose list is streamed, e.g. `clients`.
    pub key: &'a str,
    /// Called with each entry of that list, in file order.
    pub sink: &'a mut dyn FnMut(Node),
}

enum Frame {
    Mapping {
        start: Marker,
        /// The entries so far (its span is set when it ends).
        map: MarkedMappingNode,
        /// A key read and waiting for its value.
        key: Option<Box<MarkedScalarNode>>,
    },
    Sequence {
        start: Marker,
        list: Vec<Node>,
        /// Whether this is the streamed list: its items go to the sink.
        streamed: bool,
    },
}

struct Loader<'a> {
    stack: Vec<Frame>,
    done: Option<Node>,
    error: Option<LoadStop>,
    stream: Option<Stream<'a>>,
}

/// Why a document could not be loaded.
#[derive(Debug)]
pub enum LoadStop {
    /// What `marked_yaml`'s own loader would refuse (syntax, anchors, tags,
    /// non-scalar or duplicate keys, a top level that is not a mapping).
    Yaml(LoadError),
    /// A list or mapping opened deeper than [`MAX_DEPTH`] levels below the
    /// top-level mapping, where it starts.
    TooDeep(Marker),
    /// A second document (`---`) after the first, where it starts.
    SecondDocument(Marker),
}

impl From<LoadError> for LoadStop {
    fn from(e: LoadError) -> Self {
        LoadStop::Yaml(e)
    }
}

fn marker(mark: YamlMarker) -> Marker {
    Marker::new(0, mark.index(), mark.line(), mark.col() + 1)
}

impl Loader<'_> {
    fn fail(&mut self, e: impl Into<LoadStop>) {
        self.error = Some(e.into());
    }

    /// Places a finished node: as a key or value of the mapping being read,
    /// an item of the list being read, or the document itself.
    fn place(&mut self, node: Node, at: Marker) {
        match self.stack.last_mut() {
            None => self.done = Some(node),
            Some(Frame::Mapping { map, key, .. }) => match key.take() {
                None => match node {
                    Node::Scalar(k) => *key = Some(Box::new(k)),
                    _ => self.fail(LoadError::MappingKeyMustBeScalar(at)),
                },
                Some(k) => {
                    if let Some((prev, _)) = map.get_key_value(k.as_str()) {
                        let inner = marked_yaml::loader::DuplicateKeyInner {
                            prev_key: prev.clone(),
                            key: *k,
                        };
                        self.fail(LoadError::DuplicateKey(Box::new(inner)));
                    } else {
                        map.insert(*k, node);
                    }
                }
            },
            Some(Frame::Sequence { list, streamed, .. }) => {
                if *streamed {
                    if let Some(stream) = self.stream.as_mut() {
                        (stream.sink)(node);
                    }
                } else {
                    list.push(node);
                }
            }
        }
    }

    /// Whether a list starting now is the value of the streamed top-level key.
    fn starts_stream(&self) -> bool {
        match (&self.stream, self.stack.as_slice()) {
            (Some(stream), [Frame::Mapping { key: Some(k), .. }]) => k.as_str() == stream.key,
            _ => false,
        }
    }

    /// Takes one event of the first document. Real nesting is counted here,
    /// as the parser sees it: a list or mapping opened more than
    /// [`MAX_DEPTH`] levels below the top-level mapping stops the reading.
    fn on_event(&mut self, ev: Event, mark: YamlMarker) {
        let at = marker(mark);
        let top_level = self.stack.is_empty();
        match ev {
            Event::Nothing | Event::StreamStart | Event::DocumentStart | Event::DocumentEnd => {}
            Event::StreamEnd => {
                if self.stack.is_empty() {
                    // An empty file is an empty mapping.
                    let span = Span::new_with_marks(at, at);
                    self.done = Some(Node::from(MarkedMappingNode::new_empty(span)));
                }
            }
            Event::Alias(_) => self.fail(LoadError::UnexpectedAnchor(at)),
            Event::MappingStart(anchor, tag) | Event::SequenceStart(anchor, tag) if tag.is_some() || anchor != 0 => {
                self.fail(if tag.is_some() {
                    LoadError::UnexpectedTag(at)
                } else {
                    LoadError::UnexpectedAnchor(at)
                });
            }
            // On a scalar marked-yaml looks at the anchor first, on a
            // mapping or list at the tag first: the same message either way.
            Event::Scalar(_, _, anchor, tag) if tag.is_some() || anchor != 0 => {
                self.fail(if anchor != 0 {
                    LoadError::UnexpectedAnchor(at)
                } else {
                    LoadError::UnexpectedTag(at)
                });
            }
            Event::MappingStart(..) | Event::SequenceStart(..)
                if matches!(self.stack.last(), Some(Frame::Mapping { key: None, .. })) =>
            {
                self.fail(LoadError::MappingKeyMustBeScalar(at));
            }
            Event::MappingStart(..) | Event::SequenceStart(..) if self.stack.len() > MAX_DEPTH => {
                self.fail(LoadStop::TooDeep(at));
            }
            Event::MappingStart(..) => self.stack.push(Frame::Mapping {
                start: at,
                map: MarkedMappingNode::new_empty(Span::new_start(at)),
                key: None,
            }),
            Event::SequenceStart(..) if top_level => self.fail(LoadError::TopLevelMustBeMapping(at)),
            Event::SequenceStart(..) => {
                let streamed = self.starts_stream();
                self.stack.push(Frame::Sequence {
                    start: at,
                    list: Vec::new(),
                    streamed,
                })
            }
            Event::Scalar(..) if top_level => self.fail(LoadError::TopLevelMustBeMapping(at)),
            Event::Scalar(value, ..) => {
                let node = MarkedScalarNode::new(Span::new_start(at), value);
                self.place(Node::from(node), at);
            }
            Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Mapping { start, mut map, .. }) => {
                    *map.span_mut() = Span::new_with_marks(start, at);
                    self.place(Node::from(map), at);
                }
                // The parser balances its events; anything else is its bug, not the file's.
                _ => self.fail(LoadError::MappingKeyMustBeScalar(at)),
            },
            Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Sequence { start, list, .. }) => {
                    let node = MarkedSequenceNode::new(Span::new_with_marks(start, at), list);
                    self.place(Node::from(node), at);
                }
                _ => self.fail(LoadError::MappingKeyMustBeScalar(at)),
            },
        }
    }
}

/// Parses the one YAML document of a file, whose top level is a mapping.
///
/// The parser's events are pulled one at a time in a loop (its own `load`
/// recurses once per level of nesting, which a hostile file can turn into a
/// stack overflow), so reading stops at the first problem: nothing deeper
/// than [`MAX_DEPTH`] is ever built or walked. After the document, the rest
/// of the file is read too: a second document is refused rather than
/// ignored, so a file is read whole or not at all.
pub fn parse(text: impl Iterator<Item = char>, stream: Option<Stream<'_>>) -> Result<Node, LoadStop> {
    let mut loader = Loader {
        stack: Vec::new(),
        done: None,
        error: None,
        stream,
    };
    let mut parser = Parser::new(text);
    let mut documents = 0;
    loop {
        let (ev, mark) = parser
            .next_token()
            .map_err(|e| LoadStop::Yaml(LoadError::ScanError(marker(*e.marker()), e)))?;
        match ev {
            Event::StreamEnd if loader.done.is_none() => loader.on_event(ev, mark),
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(LoadStop::SecondDocument(marker(mark)));
                }
            }
            _ if loader.done.is_some() => {}
            ev => loader.on_event(ev, mark),
        }
        if let Some(e) = loader.error.take() {
            return Err(e);
        }
    }
    // The parser ends every document it accepts, so a document was placed.
    loader
        .done
        .ok_or_else(|| LoadStop::Yaml(LoadError::TopLevelMustBeMapping(Marker::new(0, 0, 1, 1))))
}
