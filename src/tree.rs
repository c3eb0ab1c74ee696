//! Spanned documents: every input (TOML file, `--set` argument, CSV) is read
//! into a [`Node`] tree whose values remember where they came from, so that a
//! problem found much later — in validation, after overrides were merged —
//! can still name the file, line, column and key path.
//!
//! The tree is deliberately small: strings, numbers, booleans, dates, arrays
//! and tables. Overrides ([`KeyPath`], [`set`], [`merge`]) work on this tree
//! before it is read into typed values, so an override is checked by exactly
//! the same rules as the file it changes.

use std::fmt;
use std::sync::Arc;

use crate::diag::Problem;

/// Index of a [`Source`] in [`Sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceId(pub u32);

/// One input text: a file, or a command-line argument.
#[derive(Debug, Clone)]
pub struct Source {
    /// What the user calls it: a path as given, or `--set #2`.
    pub name: String,
    pub text: Arc<str>,
}

/// Every text that has been read, so that spans can be shown later.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    files: Vec<Source>,
}

impl Sources {
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<Arc<str>>) -> SourceId {
        self.files.push(Source {
            name: name.into(),
            text: text.into(),
        });
        SourceId((self.files.len() - 1) as u32)
    }

    pub fn get(&self, id: SourceId) -> &Source {
        &self.files[id.0 as usize]
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, span: Span) -> (usize, usize) {
        let text = &self.get(span.src).text;
        let at = (span.start as usize).min(text.len());
        let before = &text[..floor_char_boundary(text, at)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }
}

fn floor_char_boundary(s: &str, mut at: usize) -> usize {
    while at > 0 && !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// A byte range in one source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub src: SourceId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(src: SourceId, range: std::ops::Range<usize>) -> Span {
        Span {
            src,
            start: range.start as u32,
            end: range.end.max(range.start) as u32,
        }
    }
}

/// A value with the span it was written at.
#[derive(Clone, Debug)]
pub struct Node {
    pub span: Span,
    pub value: Value,
}

#[derive(Clone, Debug)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Datetime(toml::value::Datetime),
    Array(Vec<Node>),
    Table(Table),
}

impl Value {
    /// The name used in messages: "a string", "a table", …
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Bool(_) => "a boolean",
            Value::Datetime(_) => "a date-time",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }
}

/// A table keeps its entries in file order.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub entries: Vec<Entry>,
    /// Written as `{ ... }`: an override written this way replaces the whole
    /// value instead of merging into it (see [`merge`]).
    pub inline: bool,
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub node: Node,
}

impl Table {
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries.iter().find(|e| e.key == key).map(|e| &e.node)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.entries
            .iter_mut()
            .find(|e| e.key == key)
            .map(|e| &mut e.node)
    }

    pub fn remove(&mut self, key: &str) -> Option<Entry> {
        let i = self.entries.iter().position(|e| e.key == key)?;
        Some(self.entries.remove(i))
    }
}

impl Node {
    pub fn as_table(&self) -> Option<&Table> {
        match &self.value {
            Value::Table(t) => Some(t),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The `name` of a table, used to address elements of arrays of tables.
    pub fn name(&self) -> Option<&str> {
        self.as_table()?.get("name")?.as_str()
    }

    /// The node as plain JSON (dates become strings), for schema checks.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Str(s) => J::String(s.clone()),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Bool(b) => J::Bool(*b),
            Value::Datetime(d) => J::String(d.to_string()),
            Value::Array(a) => J::Array(a.iter().map(Node::to_json).collect()),
            Value::Table(t) => J::Object(
                t.entries
                    .iter()
                    .map(|e| (e.key.clone(), e.node.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Parses a TOML document. Syntax errors are all reported (the parser
/// recovers), and the tree holds whatever could be read.
pub fn parse_document(sources: &Sources, src: SourceId) -> (Node, Vec<Problem>) {
    let text = sources.get(src).text.clone();
    let (doc, errors) = toml::de::DeTable::parse_recoverable(&text);
    let mut problems: Vec<Problem> = errors
        .iter()
        .map(|e| syntax_problem(src, &text, e, 0))
        .collect();
    let span = Span::new(src, 0..text.len());
    let table = convert_table(src, &text, doc.get_ref(), 0, "", &mut problems);
    (
        Node {
            span,
            value: Value::Table(table),
        },
        problems,
    )
}

/// Parses one TOML value written at `offset` in the source (a `--set` value).
pub fn parse_value(
    sources: &Sources,
    src: SourceId,
    offset: usize,
    path: &str,
) -> Result<Node, Problem> {
    let full = sources.get(src).text.clone();
    let text = &full[offset..];
    match toml::de::DeValue::parse(text) {
        Ok(v) => {
            let mut problems = Vec::new();
            let node = convert(src, text, &v, offset, path, &mut problems);
            match problems.into_iter().next() {
                Some(p) => Err(p),
                None => Ok(node),
            }
        }
        Err(e) => {
            let mut p = syntax_problem(src, &full, &e, offset);
            p.path = path.to_string();
            Err(p)
        }
    }
}

fn syntax_problem(src: SourceId, full: &str, e: &toml::de::Error, offset: usize) -> Problem {
    let len = full.len();
    let range = e
        .span()
        .map(|r| (r.start + offset).min(len)..(r.end + offset).min(len))
        .unwrap_or(offset..offset);
    let message = e.message().trim();
    // Name the key the parser means ("duplicate key" alone does not say).
    let key = (message.contains("duplicate key") || message.contains("dotted key"))
        .then(|| full.get(range.clone()))
        .flatten()
        .map(|k| k.trim().trim_matches(['"', '\'']).to_string());
    Problem::new(
        Span::new(src, range),
        key.as_deref().unwrap_or(""),
        format!("invalid TOML: {message}"),
    )
}

type DeTable<'i> = toml::de::DeTable<'i>;
type DeValue<'i> = toml::de::DeValue<'i>;

fn convert_table(
    src: SourceId,
    text: &str,
    table: &DeTable<'_>,
    offset: usize,
    path: &str,
    problems: &mut Vec<Problem>,
) -> Table {
    let entries = table
        .iter()
        .map(|(k, v)| {
            let ks = k.span();
            let key = k.get_ref().to_string();
            let here = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            Entry {
                key,
                key_span: Span::new(src, ks.start + offset..ks.end + offset),
                node: convert(src, text, v, offset, &here, problems),
            }
        })
        .collect();
    Table {
        entries,
        inline: false,
    }
}

fn convert(
    src: SourceId,
    text: &str,
    v: &toml::Spanned<DeValue<'_>>,
    offset: usize,
    path: &str,
    problems: &mut Vec<Problem>,
) -> Node {
    let r = v.span();
    let span = Span::new(src, r.start + offset..r.end + offset);
    let value = match v.get_ref() {
        DeValue::String(s) => Value::Str(s.to_string()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(i) => Value::Int(i),
            Err(_) => {
                problems.push(Problem::new(
                    span,
                    path,
                    format!("integer {i} does not fit in 64 bits"),
                ));
                Value::Int(0)
            }
        },
        DeValue::Float(f) => Value::Float(parse_float(f.as_str())),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::Datetime(*d),
        DeValue::Array(a) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(k, e)| convert(src, text, e, offset, &format!("{path}[{k}]"), problems))
                .collect(),
        ),
        DeValue::Table(t) => {
            let mut table = convert_table(src, text, t, offset, path, problems);
            table.inline = text.as_bytes().get(r.start) == Some(&b'{');
            Value::Table(table)
        }
    };
    Node { span, value }
}

/// TOML floats include `inf` and `nan` with optional signs; they are kept so
/// that validation can reject them with a located message.
fn parse_float(s: &str) -> f64 {
    if s.contains("nan") {
        f64::NAN
    } else {
        s.parse().unwrap_or(f64::NAN)
    }
}

/// One step of a key path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// A table key, or the `name` of an element of an array of tables.
    Key(String),
    /// An array index, written `[2]` or `.2`.
    Index(usize),
}

/// A dotted key path such as `channels.webinar.volume.budget_per_week` or
/// `capacity.hires[0].week`. Segments may be quoted: `channels."paid search"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Segment>);

impl KeyPath {
    pub fn parse(s: &str) -> Result<KeyPath, String> {
        let mut segments = Vec::new();
        let mut chars = s.chars().peekable();
        let mut expect_key = true;
        while let Some(&c) = chars.peek() {
            match c {
                '.' if !expect_key => {
                    chars.next();
                    expect_key = true;
                }
                '[' => {
                    chars.next();
                    let digits: String = chars.by_ref().take_while(|c| *c != ']').collect();
                    let i = digits
                        .trim()
                        .parse()
                        .map_err(|_| format!("`[{digits}]` is not an array index"))?;
                    segments.push(Segment::Index(i));
                    expect_key = false;
                }
                '"' if expect_key => {
                    chars.next();
                    let mut key = String::new();
                    loop {
                        match chars.next() {
                            Some('"') => break,
                            Some('\\') => key.extend(chars.next()),
                            Some(c) => key.push(c),
                            None => return Err("unterminated quoted key".into()),
                        }
                    }
                    segments.push(Segment::Key(key));
                    expect_key = false;
                }
                _ if expect_key => {
                    let mut key = String::new();
                    while let Some(&c) = chars.peek() {
                        if c == '.' || c == '[' {
                            break;
                        }
                        key.push(c);
                        chars.next();
                    }
                    let key = key.trim().to_string();
                    if key.is_empty() {
                        return Err("empty key".into());
                    }
                    segments.push(match key.parse::<usize>() {
                        Ok(i) if !segments.is_empty() => Segment::Index(i),
                        _ => Segment::Key(key),
                    });
                    expect_key = false;
                }
                _ => return Err(format!("unexpected `{c}`")),
            }
        }
        if segments.is_empty() || expect_key {
            return Err("a key path needs at least one key, e.g. `scoring.threshold`".into());
        }
        Ok(KeyPath(segments))
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Segment::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(&display_key(k))?;
                }
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A key as written in a path: bare when it can be, quoted otherwise.
pub fn display_key(k: &str) -> String {
    let bare = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        k.to_string()
    } else {
        format!("{k:?}")
    }
}

/// Joins a parent path and a key for messages.
pub fn join_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        display_key(key)
    } else {
        format!("{parent}.{}", display_key(key))
    }
}

/// Sets `path` to `value` in `root`, creating missing tables on the way.
/// Array elements are addressed by index or by their `name`.
pub fn set(root: &mut Node, path: &KeyPath, value: Node) -> Result<(), String> {
    let mut here = root;
    let mut walked = String::new();
    for (i, seg) in path.0.iter().enumerate() {
        let last = i + 1 == path.0.len();
        let span = value.span;
        here = match (&mut here.value, seg) {
            (Value::Table(t), Segment::Key(k)) => {
                if t.get(k).is_none() {
                    let node = if last {
                        value.clone()
                    } else {
                        Node {
                            span,
                            value: Value::Table(Table::default()),
                        }
                    };
                    t.entries.push(Entry {
                        key: k.clone(),
                        key_span: span,
                        node,
                    });
                    if last {
                        return Ok(());
                    }
                }
                t.get_mut(k).expect("present")
            }
            (Value::Array(a), seg) => {
                let names: Vec<String> = a
                    .iter()
                    .filter_map(|n| n.name().map(String::from))
                    .collect();
                let len = a.len();
                let found = match seg {
                    Segment::Index(n) => a.get_mut(*n),
                    Segment::Key(k) => a.iter_mut().find(|n| n.name() == Some(k.as_str())),
                };
                match found {
                    Some(n) => n,
                    None => {
                        let what = match seg {
                            Segment::Index(n) => format!("no element [{n}]"),
                            Segment::Key(k) => format!("no element named `{k}`"),
                        };
                        let known = if names.is_empty() {
                            format!("it has {len} element(s)")
                        } else {
                            format!("known: {}", names.join(", "))
                        };
                        return Err(format!("`{walked}` has {what} ({known})"));
                    }
                }
            }
            (Value::Table(_), Segment::Index(n)) => {
                return Err(format!(
                    "`{walked}` is a table, not an array: cannot take [{n}]"
                ));
            }
            (v, _) => {
                return Err(format!(
                    "`{walked}` is {}, so it has no key `{}`",
                    v.kind(),
                    KeyPath(vec![seg.clone()])
                ));
            }
        };
        match seg {
            Segment::Key(k) => walked = join_path(&walked, k),
            Segment::Index(n) => walked = format!("{walked}[{n}]"),
        }
        if last {
            *here = value;
            return Ok(());
        }
    }
    Ok(())
}

/// Merges an overlay table into `base`: tables written with dotted keys or
/// `[headers]` merge key by key; a table written inline (`{ ... }`), an
/// array or a scalar replaces what was there. A table merged into an array
/// of named tables addresses its elements by `name` (or index).
pub fn merge(base: &mut Node, overlay: &Node) -> Result<(), Vec<Problem>> {
    let mut problems = Vec::new();
    merge_at(base, overlay, "", &mut problems);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn merge_at(base: &mut Node, overlay: &Node, path: &str, problems: &mut Vec<Problem>) {
    let Value::Table(over) = &overlay.value else {
        *base = overlay.clone();
        return;
    };
    if over.inline {
        *base = overlay.clone();
        return;
    }
    match &mut base.value {
        Value::Table(t) => {
            for e in &over.entries {
                let child = join_path(path, &e.key);
                if t.get(&e.key).is_none()
                    && let Some(near) = near_miss_table(t, &e.key, &e.node)
                {
                    // `set.channels.serch.volume…` would add a new, partial
                    // channel; a near miss of an existing one is a typo.
                    problems.push(
                        Problem::new(e.key_span, &child, format!("`{path}` has no entry `{}`", e.key))
                            .with_help(format!("did you mean `{near}`? (to add a new entry, give it in full as an inline table)")),
                    );
                    continue;
                }
                match t.get_mut(&e.key) {
                    Some(b) => merge_at(b, &e.node, &child, problems),
                    None => t.entries.push(e.clone()),
                }
            }
        }
        Value::Array(items) => {
            for e in &over.entries {
                let child = join_path(path, &e.key);
                let by_index = e.key.parse::<usize>().ok();
                let target = match by_index {
                    Some(i) => items.get_mut(i),
                    None => items.iter_mut().find(|n| n.name() == Some(e.key.as_str())),
                };
                match target {
                    Some(b) => merge_at(b, &e.node, &child, problems),
                    None => {
                        let names: Vec<&str> = items.iter().filter_map(Node::name).collect();
                        let mut p = Problem::new(
                            e.key_span,
                            &child,
                            format!("`{path}` has no element named `{}`", e.key),
                        );
                        if let Some(s) = crate::diag::suggest(&e.key, names.iter().copied()) {
                            p = p.with_help(format!("did you mean `{s}`?"));
                        } else if !names.is_empty() {
                            p = p.with_help(format!("known: {}", names.join(", ")));
                        }
                        problems.push(p);
                    }
                }
            }
        }
        _ => *base = overlay.clone(),
    }
}

/// An existing table-valued key near `key`, when the overlay adds `key`
/// as a table written with dotted keys or a header (not a full inline table).
fn near_miss_table(t: &Table, key: &str, node: &Node) -> Option<String> {
    let Value::Table(new) = &node.value else {
        return None;
    };
    if new.inline {
        return None;
    }
    let tables = t
        .entries
        .iter()
        .filter(|e| matches!(e.node.value, Value::Table(_)))
        .map(|e| e.key.as_str());
    crate::diag::suggest(key, tables).map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> (Sources, Node) {
        let mut s = Sources::default();
        let id = s.add("t.toml", text);
        let (n, p) = parse_document(&s, id);
        assert!(p.is_empty(), "{p:?}");
        (s, n)
    }

    #[test]
    fn key_paths_parse_and_print() {
        let p = KeyPath::parse("capacity.hires[0].week").unwrap();
        assert_eq!(
            p.0,
            vec![
                Segment::Key("capacity".into()),
                Segment::Key("hires".into()),
                Segment::Index(0),
                Segment::Key("week".into())
            ]
        );
        assert_eq!(p.to_string(), "capacity.hires[0].week");
        let q = KeyPath::parse("capacity.hires.1.week").unwrap();
        assert_eq!(q.0[2], Segment::Index(1));
        let r = KeyPath::parse(r#"channels."paid search".cost_per_lead"#).unwrap();
        assert_eq!(r.to_string(), r#"channels."paid search".cost_per_lead"#);
        for bad in ["", ".", "a.", "a..b", "a[x]", "\"open"] {
            assert!(KeyPath::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn line_and_column_are_one_based() {
        let (s, n) = doc("a = 1\nbb = \"x\"\n");
        let t = n.as_table().unwrap();
        let b = t.get("bb").unwrap();
        assert_eq!(s.line_col(b.span), (2, 6));
    }

    #[test]
    fn set_creates_tables_and_addresses_named_elements() {
        let (mut s, mut n) =
            doc("[[stages]]\nname = \"lead\"\n[[stages]]\nname = \"mql\"\np = 0.5\n");
        let id = s.add("--set", "0.7");
        let v = parse_value(&s, id, 0, "").unwrap();
        set(&mut n, &KeyPath::parse("stages.mql.p").unwrap(), v.clone()).unwrap();
        set(
            &mut n,
            &KeyPath::parse("scoring.threshold").unwrap(),
            v.clone(),
        )
        .unwrap();
        let j = n.to_json();
        assert_eq!(j["stages"][1]["p"], 0.7);
        assert_eq!(j["scoring"]["threshold"], 0.7);
        let e = set(&mut n, &KeyPath::parse("stages.sal.p").unwrap(), v).unwrap_err();
        assert!(
            e.contains("no element named `sal`") && e.contains("lead, mql"),
            "{e}"
        );
    }

    #[test]
    fn merge_merges_dotted_tables_and_replaces_inline_ones() {
        let (_, mut base) =
            doc("[d]\nsize = { dist = \"lognormal\", median = 1, sigma = 2 }\nwin = 0.2\n");
        let (_, over) = doc("d.size.median = 5\n");
        merge(&mut base, &over).unwrap();
        assert_eq!(base.to_json()["d"]["size"]["sigma"], 2);
        assert_eq!(base.to_json()["d"]["size"]["median"], 5);
        let (_, over) = doc("d.size = { dist = \"fixed\", value = 3 }\n");
        merge(&mut base, &over).unwrap();
        assert_eq!(
            base.to_json()["d"]["size"],
            serde_json::json!({"dist": "fixed", "value": 3})
        );
        assert_eq!(base.to_json()["d"]["win"], 0.2);
    }

    #[test]
    fn floats_keep_nan_and_infinity_for_validation() {
        let (_, n) = doc("a = nan\nb = -inf\nc = 1_000.5\n");
        let j = n.as_table().unwrap();
        assert!(matches!(j.get("a").unwrap().value, Value::Float(f) if f.is_nan()));
        assert!(matches!(j.get("b").unwrap().value, Value::Float(f) if f == f64::NEG_INFINITY));
        assert!(matches!(j.get("c").unwrap().value, Value::Float(f) if (f - 1000.5).abs() < 1e-12));
    }
}
