//! Where things are in a YAML file.
//!
//! serde_yaml gives values but forgets positions once a document has parsed, and every
//! config problem must be reported as `FILE:LINE:COL`. This module replays the same text
//! through saphyr's event parser and keeps a light tree of keys and scalars with their
//! positions, so that a problem found on a value can point at the exact spot.

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// A position in the file, 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub col: usize,
}

impl Pos {
    /// The start of the file, used when nothing better is known.
    pub const START: Pos = Pos { line: 1, col: 1 };

    fn from_span(span: &Span) -> Pos {
        Pos {
            line: span.start.line(),
            col: span.start.col() + 1,
        }
    }
}

/// A node of the position tree.
#[derive(Debug, Clone)]
pub enum Node {
    /// A scalar: its text as written and where it starts. `chars` is its character range in
    /// the source, which a write-back needs; `plain` tells whether it was unquoted.
    Scalar {
        /// Where the scalar starts.
        pos: Pos,
        /// Character offsets of the scalar in the source (start, end).
        chars: (usize, usize),
        /// Unquoted, non-block scalar.
        plain: bool,
    },
    /// A sequence and its items.
    Seq {
        /// Where the sequence starts.
        pos: Pos,
        /// Its items in order.
        items: Vec<Node>,
    },
    /// A mapping and its entries in file order.
    Map {
        /// Where the mapping starts.
        pos: Pos,
        /// Its entries.
        entries: Vec<Entry>,
    },
    /// An alias (`*name`); herald does not follow it for positions, but for a merge key
    /// (`<<: *name`), whose entries are copied into the mapping that merges them.
    Alias {
        /// Where the alias is.
        pos: Pos,
        /// The anchor it names (saphyr's id).
        anchor: usize,
    },
}

/// One `key: value` of a mapping.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The key as text (non-scalar keys read `?`).
    pub key: String,
    /// Where the key starts.
    pub key_pos: Pos,
    /// The value.
    pub value: Node,
    /// Copied in by a merge key (`<<: *defaults`): its positions are those of the anchored
    /// mapping where it is written, and a write-back must not edit it there (that would
    /// change every entry that merges it) but add the key to the entry itself.
    pub merged: bool,
}

impl Node {
    /// Where this node starts.
    pub fn pos(&self) -> Pos {
        match self {
            Node::Scalar { pos, .. }
            | Node::Seq { pos, .. }
            | Node::Map { pos, .. }
            | Node::Alias { pos, .. } => *pos,
        }
    }

    /// The entry for `key` when this node is a mapping (the last one wins, as in serde_yaml).
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match self {
            Node::Map { entries, .. } => entries.iter().rev().find(|e| e.key == key),
            _ => None,
        }
    }

    /// The `i`-th item when this node is a sequence.
    pub fn item(&self, i: usize) -> Option<&Node> {
        match self {
            Node::Seq { items, .. } => items.get(i),
            _ => None,
        }
    }
}

enum Frame {
    Seq(Pos, usize, Vec<Node>),
    Map(Pos, usize, Vec<Entry>, Option<(String, Pos)>),
}

/// Adds to `entries` what their merge keys (`<<: *a` or `<<: [*a, *b]`) bring: every key of
/// the merged mappings not written in the mapping itself, the first merged mapping first,
/// as YAML's merge type (and Atlantis' yaml.v3) resolve it.
fn merge(entries: &mut Vec<Entry>, anchors: &std::collections::HashMap<usize, Node>) {
    let sources: Vec<usize> = entries
        .iter()
        .filter(|e| e.key == "<<")
        .flat_map(|e| match &e.value {
            Node::Alias { anchor, .. } => vec![*anchor],
            Node::Seq { items, .. } => items
                .iter()
                .filter_map(|i| match i {
                    Node::Alias { anchor, .. } => Some(*anchor),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    for anchor in sources {
        if let Some(Node::Map { entries: more, .. }) = anchors.get(&anchor) {
            for e in more {
                if !entries.iter().any(|have| have.key == e.key) {
                    entries.push(Entry {
                        merged: true,
                        ..e.clone()
                    });
                }
            }
        }
    }
}

/// Builds the position tree of the first document in `text`. Returns `None` when saphyr
/// cannot parse it; the caller then reports positions at the start of the file, since the
/// syntax error itself comes from serde_yaml.
pub fn parse(text: &str) -> Option<Node> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut anchors: std::collections::HashMap<usize, Node> = std::collections::HashMap::new();
    let mut parser = Parser::new_from_str(text);
    while let Some(next) = parser.next_event() {
        let (event, span) = next.ok()?;
        let pos = Pos::from_span(&span);
        let (node, key_text, anchor) = match event {
            Event::Scalar(value, style, anchor, _) => (
                Node::Scalar {
                    pos,
                    chars: (span.start.index(), span.end.index()),
                    plain: style == ScalarStyle::Plain,
                },
                Some(value.into_owned()),
                anchor,
            ),
            Event::Alias(anchor) => (Node::Alias { pos, anchor }, Some("?".to_string()), 0),
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq(pos, anchor, Vec::new()));
                continue;
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map(pos, anchor, Vec::new(), None));
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(pos, anchor, items)) => (Node::Seq { pos, items }, None, anchor),
                _ => return None,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(pos, anchor, mut entries, _)) => {
                    merge(&mut entries, &anchors);
                    (Node::Map { pos, entries }, None, anchor)
                }
                _ => return None,
            },
            Event::DocumentEnd if root.is_some() => break,
            _ => continue,
        };
        if anchor > 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => {
                if root.is_none() {
                    root = Some(node);
                }
            }
            Some(Frame::Seq(_, _, items)) => items.push(node),
            Some(Frame::Map(_, _, entries, pending)) => match pending.take() {
                None => *pending = Some((key_text.unwrap_or_else(|| "?".to_string()), node.pos())),
                Some((key, key_pos)) => entries.push(Entry {
                    key,
                    key_pos,
                    value: node,
                    merged: false,
                }),
            },
        }
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_and_values() {
        let text = "# comment\nwebhooks:\n  - event: apply\n    kind: slack\n    channel: \"C1\"\n";
        let root = parse(text).expect("parses");
        let hooks = root.entry("webhooks").expect("webhooks");
        assert_eq!(hooks.key_pos, Pos { line: 2, col: 1 });
        let first = hooks.value.item(0).expect("item");
        let kind = first.entry("kind").expect("kind");
        assert_eq!(kind.key_pos, Pos { line: 4, col: 5 });
        assert_eq!(kind.value.pos(), Pos { line: 4, col: 11 });
        let channel = first.entry("channel").expect("channel");
        assert!(matches!(channel.value, Node::Scalar { plain: false, .. }));
    }

    #[test]
    fn merged_keys_point_where_they_are_written() {
        let text =
            "base: &b\n  kind: http\n  event: apply\nwebhooks:\n  - <<: *b\n    event: drift\n";
        let root = parse(text).expect("parses");
        let first = root
            .entry("webhooks")
            .and_then(|w| w.value.item(0))
            .expect("item");
        let kind = first.entry("kind").expect("merged kind");
        assert!(kind.merged);
        assert_eq!(kind.key_pos, Pos { line: 2, col: 3 });
        let event = first.entry("event").expect("own event");
        assert!(!event.merged);
        assert_eq!(event.key_pos, Pos { line: 6, col: 5 });
    }
}
