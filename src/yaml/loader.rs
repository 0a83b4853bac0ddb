//! Turns the YAML parser's events into `marked_yaml` nodes, optionally
//! handing the items of one top-level list to a callback as they are read.
//!
//! This is the event handling of `marked_yaml`'s own loader (same nodes, same
//! positions, same errors: tags, anchors, non-scalar keys and duplicate keys
//! are refused) with one addition: a world's `clients:` list can hold a
//! hundred thousand entries, and keeping every entry's node tree costs about
//! 5 KB each, so a caller may take the entries one at a time instead
//! ([`Stream`]). The tree then holds an empty list at that key, with the
//! list's position.

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode, MarkedSequenceNode};
use marked_yaml::{LoadError, Marker, Node, Span};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker as YamlMarker;

/// Where the entries of the top-level list `key` go, one by one.
pub struct Stream<'a> {
    pub key: &'a str,
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
    error: Option<LoadError>,
    stream: Option<Stream<'a>>,
}

fn marker(mark: YamlMarker) -> Marker {
    Marker::new(0, mark.index(), mark.line(), mark.col() + 1)
}

impl Loader<'_> {
    /// Places a finished node: as a key or value of the mapping being read,
    /// an item of the list being read, or the document itself.
    fn place(&mut self, node: Node, at: Marker) {
        match self.stack.last_mut() {
            None => self.done = Some(node),
            Some(Frame::Mapping { map, key, .. }) => match key.take() {
                None => match node {
                    Node::Scalar(k) => *key = Some(Box::new(k)),
                    _ => self.error = Some(LoadError::MappingKeyMustBeScalar(at)),
                },
                Some(k) => {
                    if let Some((prev, _)) = map.get_key_value(k.as_str()) {
                        let inner = marked_yaml::loader::DuplicateKeyInner {
                            prev_key: prev.clone(),
                            key: *k,
                        };
                        self.error = Some(LoadError::DuplicateKey(Box::new(inner)));
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
}

impl MarkedEventReceiver for Loader<'_> {
    fn on_event(&mut self, ev: Event, mark: YamlMarker) {
        if self.error.is_some() || self.done.is_some() {
            return;
        }
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
            Event::Alias(_) => self.error = Some(LoadError::UnexpectedAnchor(at)),
            Event::MappingStart(anchor, tag) | Event::SequenceStart(anchor, tag) if tag.is_some() || anchor != 0 => {
                self.error = Some(if tag.is_some() {
                    LoadError::UnexpectedTag(at)
                } else {
                    LoadError::UnexpectedAnchor(at)
                });
            }
            // On a scalar marked-yaml looks at the anchor first, on a
            // mapping or list at the tag first: the same message either way.
            Event::Scalar(_, _, anchor, tag) if tag.is_some() || anchor != 0 => {
                self.error = Some(if anchor != 0 {
                    LoadError::UnexpectedAnchor(at)
                } else {
                    LoadError::UnexpectedTag(at)
                });
            }
            Event::MappingStart(..) | Event::SequenceStart(..)
                if matches!(self.stack.last(), Some(Frame::Mapping { key: None, .. })) =>
            {
                self.error = Some(LoadError::MappingKeyMustBeScalar(at));
            }
            Event::MappingStart(..) => self.stack.push(Frame::Mapping {
                start: at,
                map: MarkedMappingNode::new_empty(Span::new_start(at)),
                key: None,
            }),
            Event::SequenceStart(..) if top_level => self.error = Some(LoadError::TopLevelMustBeMapping(at)),
            Event::SequenceStart(..) => {
                let streamed = self.starts_stream();
                self.stack.push(Frame::Sequence {
                    start: at,
                    list: Vec::new(),
                    streamed,
                })
            }
            Event::Scalar(..) if top_level => self.error = Some(LoadError::TopLevelMustBeMapping(at)),
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
                _ => self.error = Some(LoadError::MappingKeyMustBeScalar(at)),
            },
            Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Sequence { start, list, .. }) => {
                    let node = MarkedSequenceNode::new(Span::new_with_marks(start, at), list);
                    self.place(Node::from(node), at);
                }
                _ => self.error = Some(LoadError::MappingKeyMustBeScalar(at)),
            },
        }
    }
}

/// Parses one YAML document whose top level is a mapping.
pub fn parse(text: impl Iterator<Item = char>, stream: Option<Stream<'_>>) -> Result<Node, LoadError> {
    let mut loader = Loader {
        stack: Vec::new(),
        done: None,
        error: None,
        stream,
    };
    let mut parser = Parser::new(text);
    if let Err(e) = parser.load(&mut loader, false) {
        return Err(LoadError::ScanError(marker(*e.marker()), e));
    }
    if let Some(e) = loader.error {
        return Err(e);
    }
    // The parser ends every document it accepts, so a document was placed.
    loader
        .done
        .ok_or_else(|| LoadError::TopLevelMustBeMapping(Marker::new(0, 0, 1, 1)))
}
