//! Typed reading of [`Node`] trees, and the JSON Schema of the same types.
//!
//! A file type describes its keys once, in [`ReadTable::fields`]: each call
//! such as `f.req::<Dist>("size", "deal size in dollars")` either reads the
//! key from a table (reporting every problem to [`Cx`], never stopping at
//! the first) or, when the same function runs against a schema collector,
//! records the key, its type and its description in a JSON Schema. The
//! reader and `revplan schema` therefore cannot disagree about which keys
//! exist. Unknown keys are errors with a "did you mean" suggestion.
//!
//! Rules for `fields` functions: ask for every key before using any value
//! (`let a = f.req(..); let b = f.opt(..); Some(T { a: a?, .. })`) so that
//! all problems are found and the schema sees all keys.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value as Json, json};

use crate::diag::{Problem, suggest};
use crate::tree::{Node, SourceId, Sources, Span, Table, Value, join_path};

/// Where problems are collected while reading.
pub struct Cx<'s> {
    pub sources: &'s Sources,
    pub problems: Vec<Problem>,
}

impl<'s> Cx<'s> {
    pub fn new(sources: &'s Sources) -> Cx<'s> {
        Cx {
            sources,
            problems: Vec::new(),
        }
    }

    pub fn push(&mut self, p: Problem) {
        self.problems.push(p);
    }

    pub fn error(&mut self, span: Span, path: &str, message: impl Into<String>) {
        self.problems.push(Problem::new(span, path, message));
    }
}

/// A value that can be read from a node and described in JSON Schema.
pub trait Read: Sized {
    fn schema(g: &mut SchemaGen) -> Json;
    fn read(node: &Node, path: &str, cx: &mut Cx) -> Option<Self>;
}

/// A table type, described key by key (see the module docs).
pub trait ReadTable: Sized {
    /// Name of the type in the schema's `$defs`.
    const NAME: &'static str;
    /// What the table is, for the schema and for "expected …" messages.
    const ABOUT: &'static str;
    fn fields(f: &mut Fields<'_, '_>) -> Option<Self>;
}

impl<T: ReadTable> Read for T {
    fn schema(g: &mut SchemaGen) -> Json {
        g.table::<T>()
    }

    fn read(node: &Node, path: &str, cx: &mut Cx) -> Option<T> {
        let Value::Table(table) = &node.value else {
            cx.push(mismatch(node, path, &format!("a table ({})", T::ABOUT)));
            return None;
        };
        let mut f = Fields::reading(node, table, path, cx);
        let value = T::fields(&mut f);
        f.finish();
        value
    }
}

/// Place of a table or value, kept for checks made after reading.
#[derive(Clone, Debug, PartialEq)]
pub struct Loc {
    pub span: Span,
    pub path: String,
}

impl Loc {
    fn nowhere() -> Loc {
        Loc {
            span: Span::new(SourceId(u32::MAX), 0..0),
            path: String::new(),
        }
    }

    pub fn problem(&self, message: impl Into<String>) -> Problem {
        Problem::new(self.span, &self.path, message)
    }
}

/// A value with its place.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub loc: Loc,
}

impl<T: Read> Read for Spanned<T> {
    fn schema(g: &mut SchemaGen) -> Json {
        T::schema(g)
    }

    fn read(node: &Node, path: &str, cx: &mut Cx) -> Option<Self> {
        Some(Spanned {
            value: T::read(node, path, cx)?,
            loc: Loc {
                span: node.span,
                path: path.to_string(),
            },
        })
    }
}

/// The first line of a span: a problem with a whole table is shown at the
/// table's start, not as the whole table.
pub fn first_line(sources: &Sources, span: Span) -> Span {
    let text = &sources.get(span.src).text;
    let start = span.start as usize;
    let rest = text.get(start..span.end as usize).unwrap_or("");
    let len = rest.find('\n').unwrap_or(rest.len());
    Span::new(span.src, start..start + len)
}

/// "expected X, found Y" at a node.
pub fn mismatch(node: &Node, path: &str, expected: &str) -> Problem {
    let found = match &node.value {
        Value::Str(s) => format!("the string {:?}", truncate(s, 40)),
        Value::Int(i) => format!("the integer {i}"),
        Value::Float(x) => format!("the float {x}"),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Datetime(d) => format!("the date-time {d}"),
        Value::Array(_) => "an array".into(),
        Value::Table(_) => "a table".into(),
    };
    Problem::new(
        node.span,
        path,
        format!("expected {expected}, found {found}"),
    )
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n).collect();
        t.push('…');
        t
    }
}

/// Allowed range of a number. Every number must be finite.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub min: f64,
    pub min_open: bool,
    pub max: f64,
    pub max_open: bool,
}

impl Bounds {
    pub const FINITE: Bounds = Bounds::closed(f64::NEG_INFINITY, f64::INFINITY);
    pub const NON_NEG: Bounds = Bounds::closed(0.0, f64::INFINITY);
    pub const POSITIVE: Bounds = Bounds {
        min: 0.0,
        min_open: true,
        max: f64::INFINITY,
        max_open: false,
    };
    pub const UNIT: Bounds = Bounds::closed(0.0, 1.0);

    pub const fn closed(min: f64, max: f64) -> Bounds {
        Bounds {
            min,
            min_open: false,
            max,
            max_open: false,
        }
    }

    pub fn check(&self, v: f64) -> Result<(), String> {
        if v.is_nan() {
            return Err("NaN is not allowed here: give a number".into());
        }
        if v.is_infinite() {
            return Err("infinite values are not allowed: give a finite number".into());
        }
        let low = if self.min_open {
            v <= self.min
        } else {
            v < self.min
        };
        let high = if self.max_open {
            v >= self.max
        } else {
            v > self.max
        };
        if low || high {
            return Err(format!("{v} is out of range: {}", self.describe()));
        }
        Ok(())
    }

    pub fn describe(&self) -> String {
        let lo = self.min.is_finite();
        let hi = self.max.is_finite();
        let ge = if self.min_open {
            "greater than"
        } else {
            "at least"
        };
        let le = if self.max_open {
            "less than"
        } else {
            "at most"
        };
        match (lo, hi) {
            (true, true) if !self.min_open && !self.max_open => {
                format!("expected a number from {} to {}", self.min, self.max)
            }
            (true, true) => format!("expected a number {ge} {} and {le} {}", self.min, self.max),
            (true, false) => format!("expected a number {ge} {}", self.min),
            (false, true) => format!("expected a number {le} {}", self.max),
            (false, false) => "expected a finite number".into(),
        }
    }

    fn schema(&self) -> Json {
        let mut m = Map::new();
        m.insert("type".into(), json!("number"));
        if self.min.is_finite() {
            let k = if self.min_open {
                "exclusiveMinimum"
            } else {
                "minimum"
            };
            m.insert(k.into(), json!(self.min));
        }
        if self.max.is_finite() {
            let k = if self.max_open {
                "exclusiveMaximum"
            } else {
                "maximum"
            };
            m.insert(k.into(), json!(self.max));
        }
        Json::Object(m)
    }
}

/// Reads a number in bounds; integers are accepted where numbers are.
pub fn read_number(node: &Node, path: &str, cx: &mut Cx, b: Bounds) -> Option<f64> {
    let v = match node.value {
        Value::Float(x) => x,
        Value::Int(i) => i as f64,
        _ => {
            cx.push(mismatch(node, path, "a number"));
            return None;
        }
    };
    match b.check(v) {
        Ok(()) => Some(v),
        Err(m) => {
            cx.error(node.span, path, m);
            None
        }
    }
}

/// Reads an integer in `lo..=hi`.
pub fn read_int(node: &Node, path: &str, cx: &mut Cx, lo: i64, hi: i64) -> Option<i64> {
    match node.value {
        Value::Int(i) if (lo..=hi).contains(&i) => Some(i),
        Value::Int(i) => {
            cx.error(
                node.span,
                path,
                format!("{i} is out of range: expected an integer from {lo} to {hi}"),
            );
            None
        }
        _ => {
            cx.push(mismatch(node, path, "an integer"));
            None
        }
    }
}

fn int_schema(lo: i64, hi: i64) -> Json {
    json!({"type": "integer", "minimum": lo, "maximum": hi})
}

macro_rules! bounded_number {
    ($(#[$doc:meta])* $name:ident, $bounds:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct $name(pub f64);

        impl Read for $name {
            fn schema(_: &mut SchemaGen) -> Json {
                $bounds.schema()
            }
            fn read(node: &Node, path: &str, cx: &mut Cx) -> Option<Self> {
                read_number(node, path, cx, $bounds).map($name)
            }
        }
    };
}

bounded_number!(
    /// Any finite number.
    Finite,
    Bounds::FINITE
);
bounded_number!(
    /// A finite number ≥ 0.
    NonNeg,
    Bounds::NON_NEG
);
bounded_number!(
    /// A finite number > 0.
    Positive,
    Bounds::POSITIVE
);
bounded_number!(
    /// A number in [0, 1].
    Unit,
    Bounds::UNIT
);

/// The longest horizon, delay or week index a file may name: 20 years.
pub const MAX_WEEKS: i64 = 1040;

/// A week index or number of weeks, `0..=MAX_WEEKS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Week(pub u32);

impl Read for Week {
    fn schema(_: &mut SchemaGen) -> Json {
        int_schema(0, MAX_WEEKS)
    }
    fn read(node: &Node, path: &str, cx: &mut Cx) -> Option<Self> {
        read_int(node, path, cx, 0, MAX_WEEKS).map(|w| Week(w as u32))
    }
}

impl Read for String {
    fn schema(_: &mut SchemaGen) -> Json {
        json!({"type": "string"})
    }
    fn read(node: &Node, path: &str, cx: &mut Cx) -> Option<Self> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            _ => {
                cx.push(mismatch(node, path, "a string"));
                None
            }
        }
    }
}

impl Read for bool {
    fn schema(_: &mut SchemaGen) -> Json {
        json!({"type": "boolean"})
    }
    fn read(node: &Node, path: &str, cx: &mut Cx) -> Option<Self> {
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                cx.push(mismatch(node, path, "true or false"));
                None
            }
        }
    }
}

/// A calendar date, written as a TOML date (`2027-01-04`) or a string.
impl Read for jiff::civil::Date {
    fn schema(_: &mut SchemaGen) -> Json {
        json!({"type": "string", "format": "date"})
    }
    fn read(node: &Node, path: &str, cx: &mut Cx) -> Option<Self> {
        let parsed = match &node.value {
            Value::Datetime(d) => match (d.date, d.time, d.offset) {
                (Some(d), None, None) => {
                    jiff::civil::Date::new(d.year as i16, d.month as i8, d.day as i8).ok()
                }
                _ => None,
            },
            Value::Str(s) => s.parse().ok(),
            _ => None,
        };
        if parsed.is_none() {
            cx.push(mismatch(node, path, "a date such as 2027-01-04 (no time)"));
        }
        parsed
    }
}

/// The path of element `i` of an array: `path.name` when it has a name.
pub fn element_path(path: &str, i: usize, node: &Node) -> String {
    match node.name() {
        Some(n) => join_path(path, n),
        None => format!("{path}[{i}]"),
    }
}

impl<T: Read> Read for Vec<T> {
    fn schema(g: &mut SchemaGen) -> Json {
        let item = T::schema(g);
        if g.partial {
            // In an overlay an array of tables may also be addressed by
            // element name: `[channels.webinar]`, `[stages.sal]`.
            json!({"anyOf": [
                {"type": "array", "items": item},
                {"type": "object", "additionalProperties": item}
            ]})
        } else {
            json!({"type": "array", "items": item})
        }
    }
    fn read(node: &Node, path: &str, cx: &mut Cx) -> Option<Self> {
        let Value::Array(items) = &node.value else {
            cx.push(mismatch(node, path, "an array"));
            return None;
        };
        let mut ok = true;
        let mut out = Vec::with_capacity(items.len());
        for (i, n) in items.iter().enumerate() {
            match T::read(n, &element_path(path, i, n), cx) {
                Some(v) => out.push(v),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }
}

/// A table whose keys are names the user chooses (`[channels.webinar]`),
/// kept in file order.
#[derive(Clone, Debug)]
pub struct Named<T>(pub Vec<(Spanned<String>, T)>);

impl<T: Read> Read for Named<T> {
    fn schema(g: &mut SchemaGen) -> Json {
        json!({"type": "object", "additionalProperties": T::schema(g)})
    }
    fn read(node: &Node, path: &str, cx: &mut Cx) -> Option<Self> {
        let Value::Table(t) = &node.value else {
            cx.push(mismatch(node, path, "a table of named entries"));
            return None;
        };
        let mut ok = true;
        let mut out = Vec::new();
        for e in &t.entries {
            let p = join_path(path, &e.key);
            match T::read(&e.node, &p, cx) {
                Some(v) => out.push((
                    Spanned {
                        value: e.key.clone(),
                        loc: Loc {
                            span: e.key_span,
                            path: p,
                        },
                    },
                    v,
                )),
                None => ok = false,
            }
        }
        ok.then_some(Named(out))
    }
}

/// One arm of a tagged table: `{ dist = "normal", mean = .., sd = .. }`.
pub struct Arm<R> {
    pub tag: &'static str,
    pub about: &'static str,
    pub read: fn(&mut Fields<'_, '_>) -> Option<R>,
}

/// The keys of one table, being read or described.
pub struct Fields<'a, 's> {
    mode: Mode<'a, 's>,
}

enum Mode<'a, 's> {
    Read {
        node: &'a Node,
        table: &'a Table,
        path: String,
        cx: &'a mut Cx<'s>,
        used: Vec<bool>,
        known: Vec<String>,
    },
    Schema {
        g: &'a mut SchemaGen,
        props: Map<String, Json>,
        required: Vec<String>,
        /// Tag key and, per arm, its own properties and required keys.
        arms: Option<(String, Vec<ArmSchema>)>,
    },
}

struct ArmSchema {
    tag: &'static str,
    about: &'static str,
    props: Map<String, Json>,
    required: Vec<String>,
}

impl<'a, 's> Fields<'a, 's> {
    pub fn reading(node: &'a Node, table: &'a Table, path: &str, cx: &'a mut Cx<'s>) -> Self {
        Fields {
            mode: Mode::Read {
                node,
                table,
                path: path.to_string(),
                cx,
                used: vec![false; table.entries.len()],
                known: Vec::new(),
            },
        }
    }

    fn describing(g: &'a mut SchemaGen) -> Self {
        Fields {
            mode: Mode::Schema {
                g,
                props: Map::new(),
                required: Vec::new(),
                arms: None,
            },
        }
    }

    /// Whether this is the schema pass (values are then all `None`).
    pub fn describing_only(&self) -> bool {
        matches!(self.mode, Mode::Schema { .. })
    }

    /// Where this table is.
    pub fn loc(&self) -> Loc {
        match &self.mode {
            Mode::Read { node, path, .. } => Loc {
                span: node.span,
                path: path.clone(),
            },
            Mode::Schema { .. } => Loc::nowhere(),
        }
    }

    /// Whether the table has `key` (without reading it).
    pub fn has(&self, key: &str) -> bool {
        match &self.mode {
            Mode::Read { table, .. } => table.get(key).is_some(),
            Mode::Schema { .. } => false,
        }
    }

    /// Reports a problem at `key`'s value, or at the table when the key is
    /// absent or `None`. Ignored in the schema pass.
    pub fn problem(&mut self, key: Option<&str>, message: impl Into<String>, help: Option<String>) {
        if let Mode::Read {
            node,
            table,
            path,
            cx,
            ..
        } = &mut self.mode
        {
            let (span, p) = match key.and_then(|k| table.get(k).map(|n| (k, n))) {
                Some((k, n)) => (n.span, join_path(path, k)),
                None => (node.span, path.clone()),
            };
            let mut pr = Problem::new(span, &p, message);
            pr.help = help;
            cx.push(pr);
        }
    }

    /// Of `keys` present in the table, the one most likely changed by an
    /// override: written in another file than the table itself. Problems
    /// involving several keys are shown there.
    pub fn changed_key(&self, keys: &[&'static str]) -> Option<&'static str> {
        let Mode::Read { node, table, .. } = &self.mode else {
            return None;
        };
        let present: Vec<&'static str> = keys
            .iter()
            .copied()
            .filter(|k| table.get(k).is_some())
            .collect();
        present
            .iter()
            .copied()
            .find(|k| table.get(k).is_some_and(|n| n.span.src != node.span.src))
            .or_else(|| present.first().copied())
    }

    /// Generic access to one key: `read` runs on its node in the read pass,
    /// `schema` builds its description in the schema pass.
    fn field<T>(
        &mut self,
        key: &str,
        about: &str,
        required: bool,
        schema: impl FnOnce(&mut SchemaGen) -> Json,
        read: impl FnOnce(&Node, &str, &mut Cx) -> Option<T>,
    ) -> Option<Option<T>> {
        match &mut self.mode {
            Mode::Read {
                node,
                table,
                path,
                cx,
                used,
                known,
            } => {
                known.push(key.to_string());
                match table.entries.iter().position(|e| e.key == key) {
                    Some(i) => {
                        used[i] = true;
                        let p = join_path(path, key);
                        read(&table.entries[i].node, &p, cx).map(Some)
                    }
                    None if required => {
                        let at = first_line(cx.sources, node.span);
                        cx.push(
                            Problem::new(at, path, format!("missing key `{key}`"))
                                .with_help(format!("add `{key}`: {about}")),
                        );
                        None
                    }
                    None => Some(None),
                }
            }
            Mode::Schema {
                g,
                props,
                required: req,
                ..
            } => {
                let mut s = schema(g);
                if let Json::Object(m) = &mut s {
                    m.insert("description".into(), json!(about));
                } else {
                    s = json!({"description": about, "allOf": [s]});
                }
                props.insert(key.to_string(), s);
                if required && !g.partial {
                    req.push(key.to_string());
                }
                None
            }
        }
    }

    /// A required key.
    pub fn req<T: Read>(&mut self, key: &str, about: &str) -> Option<T> {
        self.field(key, about, true, T::schema, T::read).flatten()
    }

    /// An optional key: `Some(None)` when absent, `None` when invalid.
    pub fn opt<T: Read>(&mut self, key: &str, about: &str) -> Option<Option<T>> {
        self.field(key, about, false, T::schema, T::read)
    }

    /// An optional key with a default.
    pub fn or<T: Read>(&mut self, key: &str, about: &str, default: T) -> Option<T> {
        self.opt(key, about).map(|v| v.unwrap_or(default))
    }

    pub fn req_num(&mut self, key: &str, about: &str, b: Bounds) -> Option<f64> {
        self.field(
            key,
            about,
            true,
            |_| b.schema(),
            |n, p, cx| read_number(n, p, cx, b),
        )
        .flatten()
    }

    pub fn opt_num(&mut self, key: &str, about: &str, b: Bounds) -> Option<Option<f64>> {
        self.field(
            key,
            about,
            false,
            |_| b.schema(),
            |n, p, cx| read_number(n, p, cx, b),
        )
    }

    pub fn req_int(&mut self, key: &str, about: &str, lo: i64, hi: i64) -> Option<i64> {
        self.field(
            key,
            about,
            true,
            |_| int_schema(lo, hi),
            |n, p, cx| read_int(n, p, cx, lo, hi),
        )
        .flatten()
    }

    pub fn opt_int(&mut self, key: &str, about: &str, lo: i64, hi: i64) -> Option<Option<i64>> {
        self.field(
            key,
            about,
            false,
            |_| int_schema(lo, hi),
            |n, p, cx| read_int(n, p, cx, lo, hi),
        )
    }

    /// A string that must be one of `choices`.
    pub fn req_choice(
        &mut self,
        key: &str,
        about: &str,
        choices: &[&'static str],
    ) -> Option<&'static str> {
        self.choice(key, about, choices, true).flatten()
    }

    pub fn opt_choice(
        &mut self,
        key: &str,
        about: &str,
        choices: &[&'static str],
    ) -> Option<Option<&'static str>> {
        self.choice(key, about, choices, false)
    }

    fn choice(
        &mut self,
        key: &str,
        about: &str,
        choices: &[&'static str],
        required: bool,
    ) -> Option<Option<&'static str>> {
        self.field(
            key,
            about,
            required,
            |_| json!({"type": "string", "enum": choices}),
            |n, p, cx| read_choice(n, p, cx, choices),
        )
    }

    /// A tagged table: the string at `tag` picks the arm that reads the
    /// remaining keys.
    pub fn tagged<R>(&mut self, tag: &str, about: &str, arms: &[Arm<R>]) -> Option<R> {
        let tags: Vec<&'static str> = arms.iter().map(|a| a.tag).collect();
        if let Mode::Schema { g, arms: slot, .. } = &mut self.mode {
            let mut out = Vec::new();
            for arm in arms {
                let mut sub = Fields::describing(g);
                let _ = (arm.read)(&mut sub);
                if let Mode::Schema {
                    props, required, ..
                } = sub.mode
                {
                    out.push(ArmSchema {
                        tag: arm.tag,
                        about: arm.about,
                        props,
                        required,
                    });
                }
            }
            *slot = Some((tag.to_string(), out));
            return None;
        }
        let Some(chosen) = self.req_choice(tag, about, &tags) else {
            // Without a valid tag the other keys cannot be judged.
            self.accept_rest();
            return None;
        };
        let arm = arms.iter().find(|a| a.tag == chosen)?;
        (arm.read)(self)
    }

    /// Marks every key as read, so none is reported as unknown.
    fn accept_rest(&mut self) {
        if let Mode::Read { used, .. } = &mut self.mode {
            used.iter_mut().for_each(|u| *u = true);
        }
    }

    /// Reads keys that an overlay may override: in the schema they are
    /// described as overrides (nothing required); reading is unchanged,
    /// since overlays are merged before reading.
    pub fn overlay<R>(&mut self, read: impl FnOnce(&mut Self) -> Option<R>) -> Option<R> {
        let before = match &mut self.mode {
            Mode::Schema { g, .. } => Some(std::mem::replace(&mut g.partial, true)),
            Mode::Read { .. } => None,
        };
        let r = read(self);
        if let (Some(b), Mode::Schema { g, .. }) = (before, &mut self.mode) {
            g.partial = b;
        }
        r
    }

    /// Reports unknown keys, suggesting the nearest known one.
    pub fn finish(self) {
        let Mode::Read {
            table,
            path,
            cx,
            used,
            known,
            ..
        } = self.mode
        else {
            return;
        };
        for (e, used) in table.entries.iter().zip(used) {
            if used {
                continue;
            }
            let p = join_path(&path, &e.key);
            let mut pr = Problem::new(e.key_span, &p, format!("unknown key `{}`", e.key));
            let candidates = known.iter().map(String::as_str);
            pr.help = Some(match suggest(&e.key, candidates) {
                Some(s) => format!("did you mean `{s}`?"),
                None if known.is_empty() => "this table takes no keys".into(),
                None => format!("expected one of: {}", known.join(", ")),
            });
            cx.push(pr);
        }
    }

    fn into_schema(self, about: &str) -> Json {
        let Mode::Schema {
            props,
            required,
            arms,
            g,
        } = self.mode
        else {
            return Json::Null;
        };
        let object = |props: Map<String, Json>, required: Vec<String>, about: &str| {
            let mut m = Map::new();
            m.insert("type".into(), json!("object"));
            m.insert("description".into(), json!(about));
            m.insert("properties".into(), Json::Object(props));
            if !required.is_empty() {
                m.insert("required".into(), json!(required));
            }
            m.insert("additionalProperties".into(), json!(false));
            Json::Object(m)
        };
        match arms {
            None => object(props, required, about),
            Some((tag, arms)) => {
                let variants: Vec<Json> = arms
                    .into_iter()
                    .map(|a| {
                        let mut p = props.clone();
                        p.extend(a.props);
                        p.insert(tag.clone(), json!({"const": a.tag, "description": a.about}));
                        let mut r = required.clone();
                        r.extend(a.required);
                        if !g.partial {
                            r.push(tag.clone());
                        }
                        object(p, r, a.about)
                    })
                    .collect();
                json!({"description": about, "anyOf": variants})
            }
        }
    }
}

fn read_choice(
    node: &Node,
    path: &str,
    cx: &mut Cx,
    choices: &[&'static str],
) -> Option<&'static str> {
    let Value::Str(s) = &node.value else {
        cx.push(mismatch(node, path, &format!("one of {}", quoted(choices))));
        return None;
    };
    if let Some(c) = choices.iter().find(|c| **c == s) {
        return Some(c);
    }
    let mut p = Problem::new(
        node.span,
        path,
        format!("unknown value {s:?}: expected one of {}", quoted(choices)),
    );
    if let Some(near) = suggest(s, choices.iter().copied()) {
        p = p.with_help(format!("did you mean \"{near}\"?"));
    }
    cx.push(p);
    None
}

fn quoted(choices: &[&str]) -> String {
    choices
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Builds JSON Schemas from [`Read`] types, sharing table types in `$defs`.
#[derive(Default)]
pub struct SchemaGen {
    defs: BTreeMap<String, Json>,
    building: BTreeSet<String>,
    /// Describing an overlay: nothing is required, arrays of tables may be
    /// addressed by name.
    pub partial: bool,
}

impl SchemaGen {
    pub fn table<T: ReadTable>(&mut self) -> Json {
        let name = if self.partial {
            format!("{}Partial", T::NAME)
        } else {
            T::NAME.to_string()
        };
        if !self.defs.contains_key(&name) && self.building.insert(name.clone()) {
            let mut f = Fields::describing(self);
            let _ = T::fields(&mut f);
            let s = f.into_schema(T::ABOUT);
            self.defs.insert(name.clone(), s);
        }
        json!({"$ref": format!("#/$defs/{name}")})
    }

    /// Describes `f`'s types as overlays (see [`SchemaGen::partial`]).
    pub fn overlay<R>(&mut self, f: impl FnOnce(&mut SchemaGen) -> R) -> R {
        let before = self.partial;
        self.partial = true;
        let r = f(self);
        self.partial = before;
        r
    }

    /// The whole schema document with `root` at the top.
    pub fn document<T: ReadTable>(mut self, id: &str, title: &str) -> Json {
        let root = self.table::<T>();
        let name = root["$ref"]
            .as_str()
            .unwrap_or_default()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let mut top = self.defs.get(&name).cloned().unwrap_or(root);
        if let Json::Object(m) = &mut top {
            m.insert(
                "$schema".into(),
                json!("https://json-schema.org/draft/2020-12/schema"),
            );
            m.insert("$id".into(), json!(id));
            m.insert("title".into(), json!(title));
            m.insert("$defs".into(), json!(self.defs));
        }
        top
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::parse_document;

    #[derive(Debug, PartialEq)]
    struct Demo {
        name: String,
        rate: f64,
        weeks: Option<i64>,
        shape: Shape,
    }

    #[derive(Debug, PartialEq)]
    enum Shape {
        Circle(f64),
        Square(f64),
    }

    impl ReadTable for Demo {
        const NAME: &'static str = "Demo";
        const ABOUT: &'static str = "a demo table";
        fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
            let name = f.req::<String>("name", "its name");
            let rate = f.req_num("rate", "a rate", Bounds::UNIT);
            let weeks = f.opt_int("weeks", "weeks", 0, 10);
            let shape = f.req::<Shape>("shape", "a shape");
            Some(Demo {
                name: name?,
                rate: rate?,
                weeks: weeks?,
                shape: shape?,
            })
        }
    }

    impl ReadTable for Shape {
        const NAME: &'static str = "Shape";
        const ABOUT: &'static str = "a shape";
        fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
            f.tagged(
                "kind",
                "which shape",
                &[
                    Arm {
                        tag: "circle",
                        about: "a circle",
                        read: |f| {
                            f.req_num("radius", "radius", Bounds::POSITIVE)
                                .map(Shape::Circle)
                        },
                    },
                    Arm {
                        tag: "square",
                        about: "a square",
                        read: |f| {
                            f.req_num("side", "side", Bounds::POSITIVE)
                                .map(Shape::Square)
                        },
                    },
                ],
            )
        }
    }

    fn read_demo(text: &str) -> (Option<Demo>, Vec<String>) {
        let mut s = Sources::default();
        let id = s.add("d.toml", text);
        let (node, mut problems) = parse_document(&s, id);
        let mut cx = Cx::new(&s);
        let v = Demo::read(&node, "", &mut cx);
        problems.extend(cx.problems);
        let msgs = problems
            .iter()
            .map(|p| {
                let (l, c) = s.line_col(p.span.unwrap());
                format!(
                    "{l}:{c} {}: {} [{}]",
                    p.path,
                    p.message,
                    p.help.clone().unwrap_or_default()
                )
            })
            .collect();
        (v, msgs)
    }

    #[test]
    fn reads_a_valid_table() {
        let (v, m) =
            read_demo("name = \"x\"\nrate = 1\nshape = { kind = \"circle\", radius = 2 }\n");
        assert!(m.is_empty(), "{m:?}");
        assert_eq!(
            v,
            Some(Demo {
                name: "x".into(),
                rate: 1.0,
                weeks: None,
                shape: Shape::Circle(2.0)
            })
        );
    }

    #[test]
    fn reports_every_problem_with_place_and_suggestion() {
        let text =
            "nme = \"x\"\nrate = 1.5\nweeks = 2.0\nshape = { kind = \"sqare\", side = -1 }\n";
        let (v, m) = read_demo(text);
        assert!(v.is_none());
        assert_eq!(
            m,
            vec![
                "1:1 : missing key `name` [add `name`: its name]",
                "2:8 rate: 1.5 is out of range: expected a number from 0 to 1 []",
                "3:9 weeks: expected an integer, found the float 2 []",
                "4:18 shape.kind: unknown value \"sqare\": expected one of \"circle\", \"square\" [did you mean \"square\"?]",
                "1:1 nme: unknown key `nme` [did you mean `name`?]",
            ]
        );
    }

    #[test]
    fn nan_and_infinity_are_rejected() {
        let (_, m) =
            read_demo("name = \"x\"\nrate = nan\nshape = { kind = \"circle\", radius = inf }\n");
        assert!(m[0].contains("NaN is not allowed"), "{m:?}");
        assert!(m[1].contains("infinite values are not allowed"), "{m:?}");
    }

    #[test]
    fn schema_lists_keys_required_and_arms() {
        let s = SchemaGen::default().document::<Demo>("x", "Demo");
        assert_eq!(s["required"], json!(["name", "rate", "shape"]));
        assert_eq!(s["properties"]["rate"]["maximum"], json!(1.0));
        assert_eq!(s["additionalProperties"], json!(false));
        let shape = &s["$defs"]["Shape"]["anyOf"];
        assert_eq!(shape[0]["properties"]["kind"]["const"], "circle");
        assert_eq!(shape[1]["required"], json!(["side", "kind"]));
    }
}
