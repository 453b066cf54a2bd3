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
    /// An alias (`*name`); herald does not follow it for positions.
    Alias {
        /// Where the alias is.
        pos: Pos,
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
}

impl Node {
    /// Where this node starts.
    pub fn pos(&self) -> Pos {
        match self {
            Node::Scalar { pos, .. }
            | Node::Seq { pos, .. }
            | Node::Map { pos, .. }
            | Node::Alias { pos } => *pos,
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
    Seq(Pos, Vec<Node>),
    Map(Pos, Vec<Entry>, Option<(String, Pos)>),
}

/// Builds the position tree of the first document in `text`. Returns `None` when saphyr
/// cannot parse it; the caller then reports positions at the start of the file, since the
/// syntax error itself comes from serde_yaml.
pub fn parse(text: &str) -> Option<Node> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut parser = Parser::new_from_str(text);
    while let Some(next) = parser.next_event() {
        let (event, span) = next.ok()?;
        let pos = Pos::from_span(&span);
        let (node, key_text) = match event {
            Event::Scalar(value, style, _, _) => (
                Node::Scalar {
                    pos,
                    chars: (span.start.index(), span.end.index()),
                    plain: style == ScalarStyle::Plain,
                },
                Some(value.into_owned()),
            ),
            Event::Alias(_) => (Node::Alias { pos }, Some("?".to_string())),
            Event::SequenceStart(..) => {
                stack.push(Frame::Seq(pos, Vec::new()));
                continue;
            }
            Event::MappingStart(..) => {
                stack.push(Frame::Map(pos, Vec::new(), None));
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(pos, items)) => (Node::Seq { pos, items }, None),
                _ => return None,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(pos, entries, _)) => (Node::Map { pos, entries }, None),
                _ => return None,
            },
            Event::DocumentEnd if root.is_some() => break,
            _ => continue,
        };
        match stack.last_mut() {
            None => {
                if root.is_none() {
                    root = Some(node);
                }
            }
            Some(Frame::Seq(_, items)) => items.push(node),
            Some(Frame::Map(_, entries, pending)) => match pending.take() {
                None => *pending = Some((key_text.unwrap_or_else(|| "?".to_string()), node.pos())),
                Some((key, key_pos)) => entries.push(Entry {
                    key,
                    key_pos,
                    value: node,
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
}
