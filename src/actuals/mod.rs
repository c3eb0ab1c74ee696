//! Actuals: the team's CRM and marketing-automation exports read through a
//! data-source file into leads, deals, touches and costs — every problem
//! reported with file, line, column and value — cut at an as-of date, with
//! a data-quality account of what was read, kept and doubted.

pub mod dates;
pub mod generate;
pub mod km;
pub mod report;
pub mod source;
pub mod table;

use std::collections::BTreeMap;
use std::path::Path;

use jiff::civil::Date;
use serde::Serialize;

use crate::diag::{InputError, RowProblem};
use dates::{DateRule, Detected};
use source::{DataSource, Loaded};
use table::{RawTable, Row};

/// Hash maps and sets keyed by CRM ids: a fast hash with a fixed seed, so
/// that nothing depends on a random one.
pub type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;
pub type Set<K> = std::collections::HashSet<K, foldhash::fast::FixedState>;

/// The stages a lead's dates mark, in order.
pub const STAGES: [&str; 4] = ["mql", "sal", "sql", "opportunity"];

/// One lead (a contact, for HubSpot).
#[derive(Clone, Debug, PartialEq)]
pub struct Lead {
    pub id: String,
    pub line: usize,
    pub created: Date,
    pub source: String,
    pub score: Option<f64>,
    pub owner: Option<String>,
    pub account: Option<String>,
    /// Dates of entering MQL, SAL, SQL and opportunity.
    pub stages: [Option<Date>; 4],
    pub rejected: bool,
    pub reason: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Won,
    Lost,
    Open,
}

/// One deal (an opportunity).
#[derive(Clone, Debug, PartialEq)]
pub struct Deal {
    pub id: String,
    pub line: usize,
    pub lead: Option<String>,
    pub created: Date,
    pub closed: Option<Date>,
    pub amount: Option<f64>,
    pub status: Status,
    /// The stage as the export names it.
    pub stage: String,
    pub source: Option<String>,
    pub owner: Option<String>,
    pub product: Option<String>,
    pub probability: Option<f64>,
    pub category: Option<String>,
}

/// One activity on a lead.
#[derive(Clone, Debug, PartialEq)]
pub struct Touch {
    pub lead: String,
    pub date: Date,
    pub kind: Option<String>,
}

/// Spend of a channel in a month (its first day).
#[derive(Clone, Debug, PartialEq)]
pub struct Cost {
    pub channel: String,
    pub month: Date,
    pub amount: f64,
}

/// What was read from one export.
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FileQuality {
    pub file: String,
    pub what: String,
    pub rows: usize,
    pub kept: usize,
    /// Rows left out for want of an id or the date they were created.
    pub unusable: usize,
    pub duplicate_ids: usize,
    /// Blank cells per mapped column.
    pub blanks: BTreeMap<String, usize>,
}

/// The data-quality report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Quality {
    pub files: Vec<FileQuality>,
    pub first_date: Option<String>,
    pub last_date: Option<String>,
    pub as_of: String,
    /// Whether the as-of date was given (else: the last date in the data).
    pub as_of_given: bool,
    pub deals_closed_before_created: usize,
    pub deals_closed_before_their_lead: usize,
    /// Deals naming a lead that is not in the leads export.
    pub deals_not_joining: usize,
    pub touches_not_joining: usize,
    /// Dates before 1990 or more than a year past the bulk of the data.
    pub dates_outside_span: usize,
    /// Open deals older than any deal that ever closed.
    pub stale_open_deals: usize,
    /// Rows and events after the as-of date, hidden.
    pub hidden_after_as_of: usize,
    pub warnings: Vec<String>,
}

/// Everything read, cut at the as-of date.
#[derive(Clone, Debug)]
pub struct Data {
    pub leads: Vec<Lead>,
    pub deals: Vec<Deal>,
    pub touches: Vec<Touch>,
    pub costs: Vec<Cost>,
    pub quality: Quality,
    pub as_of: Date,
    pub spec: DataSource,
}

/// Reads the exports a data-source file names, cut at `as_of` (default:
/// the last date in the data).
pub fn load(path: &Path, as_of: Option<Date>) -> Result<Data, InputError> {
    let src = source::load(path)?;
    let mut r = Reader::new(&src);
    let leads = r.leads();
    let deals = r.deals();
    let touches = r.touches();
    let costs = r.costs();
    if !r.problems.is_empty() {
        let total = r.problems.len();
        return Err(InputError::rows(
            &path.display().to_string(),
            r.problems,
            total,
        ));
    }
    let mut quality = Quality {
        files: r.files,
        warnings: r.warnings,
        ..Quality::default()
    };
    let data = Data {
        leads,
        deals,
        touches,
        costs,
        quality: Quality::default(),
        as_of: Date::MIN,
        spec: src.spec.clone(),
    };
    Ok(cut(data, as_of, &mut quality))
}

/// Reads the exports one at a time, collecting problems.
struct Reader<'a> {
    src: &'a Loaded,
    rule: DateRule,
    problems: Vec<RowProblem>,
    files: Vec<FileQuality>,
    warnings: Vec<String>,
}

/// One export being read: its table, the quality account, and the
/// indices of the mapped columns.
struct Sheet {
    t: RawTable,
    q: FileQuality,
    rules: BTreeMap<usize, DateRule>,
}

impl<'a> Reader<'a> {
    fn new(src: &'a Loaded) -> Reader<'a> {
        let tz = src
            .spec
            .time_zone
            .as_deref()
            .and_then(|z| jiff::tz::TimeZone::get(z).ok());
        Reader {
            src,
            rule: DateRule {
                order: src.spec.date_format,
                tz,
            },
            problems: Vec::new(),
            files: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn problem(
        &mut self,
        file: &str,
        line: usize,
        column: usize,
        key: &str,
        message: String,
        help: Option<&str>,
    ) {
        self.problems.push(RowProblem {
            file: file.to_string(),
            line,
            column,
            key: key.to_string(),
            message,
            help: help.map(String::from),
        });
    }

    /// Opens an export and finds its mapped columns (a missing one is a
    /// problem at the header).
    fn open(
        &mut self,
        what: &str,
        file: &str,
        columns: &[(&str, &Option<String>, bool)],
    ) -> Option<(Sheet, Vec<Option<usize>>)> {
        let path = self.src.file(file);
        let t = match table::read(&path) {
            Ok(t) => t,
            Err(e) => {
                self.problem(&path.display().to_string(), 0, 0, "", e.to_string(), None);
                return None;
            }
        };
        let mut idx = Vec::new();
        let mut ok = true;
        for (key, name, _) in columns {
            let Some(name) = name else {
                idx.push(None);
                continue;
            };
            match t.column(name) {
                Some(i) => idx.push(Some(i)),
                None => {
                    ok = false;
                    idx.push(None);
                    let header = t.header.join(", ");
                    self.problem(
                        &t.file,
                        1,
                        0,
                        name,
                        format!("no column `{name}` (for {what}.{key}); the header has: {header}"),
                        Some("name the column as the export's header writes it"),
                    );
                }
            }
        }
        if !ok {
            return None;
        }
        let dates: Vec<usize> = columns
            .iter()
            .zip(&idx)
            .filter_map(|((_, _, is_date), i)| i.filter(|_| *is_date))
            .collect();
        let scan = scan(&t, &idx, &dates);
        let mut rules = BTreeMap::new();
        for (i, found) in scan.detected {
            if let Some(rule) = self.column_rule(&t, i, found) {
                rules.insert(i, rule);
            }
        }
        self.check_utc_midnights(&t, &scan.utc);
        let mut q = FileQuality {
            file: file.to_string(),
            what: what.to_string(),
            rows: t.len,
            ..FileQuality::default()
        };
        for ((_, name, _), i) in columns.iter().zip(&idx) {
            if let (Some(name), Some(i)) = (name, i) {
                q.blanks.insert(name.clone(), scan.blanks[*i]);
            }
        }
        Some((Sheet { t, q, rules }, idx))
    }

    /// How a date column reads: the file's order, else detected from its
    /// values; an ambiguous column is a problem naming examples.
    fn column_rule(&mut self, t: &RawTable, i: usize, found: Detected) -> Option<DateRule> {
        if self.rule.order.is_some() {
            return Some(self.rule.clone());
        }
        let name = t.header[i].clone();
        let name = name.as_str();
        match found {
            Detected::Order(order) => Some(DateRule {
                order,
                tz: self.rule.tz.clone(),
            }),
            Detected::Ambiguous(examples) => {
                self.problem(
                    &t.file,
                    1,
                    i + 1,
                    name,
                    format!(
                        "dates such as {} could be day/month or month/day, and no value in the column tells",
                        examples.join(", ")
                    ),
                    Some("add date_format = \"mdy\" or \"dmy\" to the data-source file"),
                );
                None
            }
            Detected::Mixed(a, b) => {
                self.problem(
                    &t.file,
                    1,
                    i + 1,
                    name,
                    format!("the column mixes day-first ({a}) and month-first ({b}) dates"),
                    Some("fix the export, or set date_format to the order most rows use"),
                );
                None
            }
        }
    }

    /// Timestamps in UTC that all fall at one odd hour are local midnights
    /// stored in UTC: without a time zone their dates may be a day off.
    fn check_utc_midnights(&mut self, t: &RawTable, utc: &BTreeMap<usize, Set<i64>>) {
        if self.rule.tz.is_some() {
            return;
        }
        for (i, times) in utc {
            // One hour, or two a summer-time hour apart, never midnight.
            let mut hours: Vec<i64> = times.iter().copied().collect();
            hours.sort_unstable();
            let whole = hours.iter().all(|h| h % 3600 == 0);
            let zone_like = match hours.as_slice() {
                [h] => *h != 0,
                [a, b] => b - a == 3600 && *a != 0,
                _ => false,
            };
            if whole && zone_like {
                let shown: Vec<String> = hours
                    .iter()
                    .map(|h| format!("{:02}:00", h / 3600))
                    .collect();
                self.warnings.push(format!(
                    "{}: column `{}` holds timestamps all at {} UTC: local midnights stored in UTC? \
                     Set time_zone (e.g. \"Europe/Berlin\") so that each counts on its own date",
                    t.file,
                    t.header[*i],
                    shown.join(" or ")
                ));
                return; // once per file
            }
        }
    }

    fn leads(&mut self) -> Vec<Lead> {
        let Some(c) = self.src.spec.leads.clone() else {
            return Vec::new();
        };
        let st = c.stages.clone().unwrap_or_default();
        let cols = [
            ("id", &c.id, false),
            ("created", &c.created, true),
            ("source", &c.source, false),
            ("score", &c.score, false),
            ("owner", &c.owner, false),
            ("account", &c.account, false),
            ("status", &c.status, false),
            ("reason", &c.reason, false),
            ("stages.mql", &st.mql, true),
            ("stages.sal", &st.sal, true),
            ("stages.sql", &st.sql, true),
            ("stages.opportunity", &st.opportunity, true),
        ];
        let file = c.file.clone().unwrap_or_default();
        let Some((mut s, idx)) = self.open("leads", &file, &cols) else {
            return Vec::new();
        };
        let rejected: Set<String> = c
            .rejected
            .unwrap_or_default()
            .iter()
            .map(|v| v.trim().to_lowercase())
            .collect();
        let spec = &self.src.spec;
        let out = parse_rows(
            self,
            &mut s,
            |l: &Lead| Some(l.id.as_str()),
            |cx, row| {
                let text = |i: Option<usize>| cell(row, i);
                let created = cx.date(row, idx[1]);
                let stages = [
                    cx.date(row, idx[8]),
                    cx.date(row, idx[9]),
                    cx.date(row, idx[10]),
                    cx.date(row, idx[11]),
                ];
                let score = cx.number(row, idx[3]);
                let (Some(id), Some(created)) = (text(idx[0]), created) else {
                    return None;
                };
                let status = text(idx[6]).map(|v| v.to_lowercase());
                Some(Lead {
                    id,
                    line: cx.line,
                    created,
                    source: alias(spec, "source", text(idx[2])),
                    score,
                    owner: text(idx[4]).map(|v| alias(spec, "owner", Some(v))),
                    account: text(idx[5]),
                    stages,
                    rejected: status.is_some_and(|v| rejected.contains(&v)),
                    reason: text(idx[7]),
                })
            },
        );
        self.files.push(s.q);
        out
    }

    fn deals(&mut self) -> Vec<Deal> {
        let Some(c) = self.src.spec.deals.clone() else {
            return Vec::new();
        };
        let cols = [
            ("id", &c.id, false),
            ("lead", &c.lead, false),
            ("created", &c.created, true),
            ("closed", &c.closed, true),
            ("amount", &c.amount, false),
            ("status", &c.status, false),
            ("source", &c.source, false),
            ("owner", &c.owner, false),
            ("product", &c.product, false),
            ("probability", &c.probability, false),
            ("forecast_category", &c.forecast_category, false),
        ];
        let file = c.file.clone().unwrap_or_default();
        let Some((mut s, idx)) = self.open("deals", &file, &cols) else {
            return Vec::new();
        };
        let set = |v: &Option<Vec<String>>| -> Set<String> {
            v.iter()
                .flatten()
                .map(|x| x.trim().to_lowercase())
                .collect()
        };
        let (won, lost) = (set(&c.won), set(&c.lost));
        let constant = c.constant_status.as_deref().map(str::to_lowercase);
        let spec = &self.src.spec;
        let out = parse_rows(
            self,
            &mut s,
            |x: &Deal| Some(x.id.as_str()),
            |cx, row| {
                let text = |i: Option<usize>| cell(row, i);
                let created = cx.date(row, idx[2]);
                let closed = cx.date(row, idx[3]);
                let amount = cx.number(row, idx[4]);
                let probability = cx.number(row, idx[9]);
                let (Some(id), Some(created)) = (text(idx[0]), created) else {
                    return None;
                };
                let stage = text(idx[5]).unwrap_or_default();
                let key = constant
                    .clone()
                    .unwrap_or_else(|| stage.trim().to_lowercase());
                let status = if won.contains(&key) || key == "won" {
                    Status::Won
                } else if lost.contains(&key) || key == "lost" {
                    Status::Lost
                } else {
                    Status::Open
                };
                Some(Deal {
                    id,
                    line: cx.line,
                    lead: text(idx[1])
                        .map(|l| l.split([';', ',']).next().unwrap_or("").trim().to_string()),
                    created,
                    closed: if status == Status::Open { None } else { closed },
                    amount,
                    status,
                    stage,
                    source: text(idx[6]).map(|v| alias(spec, "source", Some(v))),
                    owner: text(idx[7]).map(|v| alias(spec, "owner", Some(v))),
                    product: text(idx[8]).map(|v| alias(spec, "product", Some(v))),
                    probability: probability.map(|p| if p > 1.0 { p / 100.0 } else { p }),
                    category: text(idx[10]),
                })
            },
        );
        self.files.push(s.q);
        out
    }

    fn touches(&mut self) -> Vec<Touch> {
        let Some(c) = self.src.spec.touches.clone() else {
            return Vec::new();
        };
        let cols = [
            ("lead", &c.lead, false),
            ("date", &c.date, true),
            ("kind", &c.kind, false),
        ];
        let file = c.file.clone().unwrap_or_default();
        let Some((mut s, idx)) = self.open("touches", &file, &cols) else {
            return Vec::new();
        };
        let out = parse_rows(
            self,
            &mut s,
            |_: &Touch| None,
            |cx, row| {
                let date = cx.date(row, idx[1]);
                let (Some(lead), Some(date)) = (cell(row, idx[0]), date) else {
                    return None;
                };
                Some(Touch {
                    lead,
                    date,
                    kind: cell(row, idx[2]),
                })
            },
        );
        self.files.push(s.q);
        out
    }

    fn costs(&mut self) -> Vec<Cost> {
        let Some(c) = self.src.spec.costs.clone() else {
            return Vec::new();
        };
        let cols = [
            ("channel", &c.channel, false),
            ("month", &c.month, false),
            ("amount", &c.amount, false),
        ];
        let file = c.file.clone().unwrap_or_default();
        let Some((mut s, idx)) = self.open("costs", &file, &cols) else {
            return Vec::new();
        };
        let (spec, rule) = (&self.src.spec, self.rule.clone());
        let out = parse_rows(
            self,
            &mut s,
            |_: &Cost| None,
            |cx, row| {
                let amount = cx.number(row, idx[2]);
                let month = cell(row, idx[1]).and_then(|m| month_of(&m, &rule));
                if month.is_none()
                    && let (Some(i), Some(v)) = (idx[1], cell(row, idx[1]))
                {
                    cx.problem(i, format!("`{v}`: not a month (YYYY-MM or a date)"));
                }
                Some(Cost {
                    channel: alias(spec, "source", cell(row, idx[0])),
                    month: month?,
                    amount: amount?,
                })
            },
        );
        self.files.push(s.q);
        out
    }
}

/// A value through the `[values.KIND]` aliases (exact, then ignoring
/// case); a blank is the alias of "" or "(blank)".
fn alias(spec: &DataSource, kind: &str, v: Option<String>) -> String {
    let v = v.unwrap_or_default();
    let Some(map) = spec.values.get(kind) else {
        return if v.is_empty() { "(blank)".into() } else { v };
    };
    if let Some(x) = map.get(&v) {
        return x.clone();
    }
    if let Some((_, x)) = map.iter().find(|(k, _)| k.eq_ignore_ascii_case(&v)) {
        return x.clone();
    }
    if v.is_empty() { "(blank)".into() } else { v }
}

/// Reads the cells of one row, keeping the problems found.
struct Cx<'s> {
    s: &'s Sheet,
    comma: bool,
    line: usize,
    problems: Vec<RowProblem>,
}

impl<'s> Cx<'s> {
    fn new(s: &'s Sheet, spec: &DataSource, line: usize) -> Cx<'s> {
        Cx {
            s,
            comma: spec.decimal.as_deref() == Some(",") || s.t.delimiter == b';',
            line,
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, i: usize, message: String) {
        self.problems.push(RowProblem {
            file: self.s.t.file.clone(),
            line: self.line,
            column: i + 1,
            key: self.s.t.header[i].clone(),
            message,
            help: None,
        });
    }

    fn date(&mut self, row: &Row, i: Option<usize>) -> Option<Date> {
        let i = i?;
        let cell = row.get(i).unwrap_or("");
        let rule = self.s.rules.get(&i)?;
        match dates::parse(cell, rule) {
            Ok(d) => d,
            Err(why) => {
                self.problem(i, format!("`{cell}`: {why}"));
                None
            }
        }
    }

    fn number(&mut self, row: &Row, i: Option<usize>) -> Option<f64> {
        let i = i?;
        let cell = row.get(i).map_or("", |c| c.trim());
        if cell.is_empty() {
            return None;
        }
        match parse_amount(cell, self.comma) {
            Some(x) => Some(x),
            None => {
                self.problem(i, format!("`{cell}`: not a number"));
                None
            }
        }
    }
}

/// Parses every row in parallel (`f` gives a row's item, or `None` when
/// it lacks its id or date), then keeps the first of each id in file
/// order, counting what was left out.
fn parse_rows<T: Send>(
    r: &mut Reader,
    s: &mut Sheet,
    key: impl Fn(&T) -> Option<&str> + Sync,
    f: impl Fn(&mut Cx, &Row) -> Option<T> + Sync,
) -> Vec<T> {
    use rayon::prelude::*;
    // Chunks of rows read in order, each parsed in parallel: the rows of
    // a large export are never all in memory at once.
    const CHUNK: usize = 1 << 16;
    let spec = &r.src.spec;
    let sheet: &Sheet = s;
    let mut rows = sheet.t.records();
    let mut seen = Set::default();
    let (mut unusable, mut duplicates) = (0, 0);
    let mut out = Vec::with_capacity(sheet.t.len);
    loop {
        let chunk: Vec<(usize, Row)> = rows.by_ref().take(CHUNK).collect();
        if chunk.is_empty() {
            break;
        }
        let parsed: Vec<(Option<T>, Vec<RowProblem>)> = chunk
            .into_par_iter()
            .map(|(line, row)| {
                let mut cx = Cx::new(sheet, spec, line);
                let item = f(&mut cx, &row);
                (item, cx.problems)
            })
            .collect();
        for (item, problems) in parsed {
            r.problems.extend(problems);
            match item {
                None => unusable += 1,
                Some(x) => {
                    if let Some(k) = key(&x)
                        && !seen.insert(k.to_string())
                    {
                        duplicates += 1;
                        continue;
                    }
                    out.push(x);
                }
            }
        }
    }
    drop(rows);
    s.q.unusable = unusable;
    s.q.duplicate_ids = duplicates;
    s.q.kept = out.len();
    out
}

/// A trimmed, non-blank cell.
fn cell(row: &Row, i: Option<usize>) -> Option<String> {
    let v = row.get(i?)?.trim();
    (!v.is_empty()).then(|| v.to_string())
}

/// What one pass over an export finds: each date column's order, blank
/// cells per column, and the UTC times of day of the first timestamps.
struct Scan {
    detected: BTreeMap<usize, Detected>,
    blanks: Vec<usize>,
    utc: BTreeMap<usize, Set<i64>>,
}

fn scan(t: &RawTable, idx: &[Option<usize>], dates: &[usize]) -> Scan {
    let mut detectors: BTreeMap<usize, dates::Detector> = dates
        .iter()
        .map(|i| (*i, dates::Detector::default()))
        .collect();
    let mut utc: BTreeMap<usize, Set<i64>> = dates.iter().map(|i| (*i, Set::default())).collect();
    let mut blanks = vec![0; t.header.len()];
    for (n, (_, row)) in t.records().enumerate() {
        for i in idx.iter().flatten() {
            if row.get(*i).is_none_or(|c| c.trim().is_empty()) {
                blanks[*i] += 1;
            }
        }
        for (i, d) in &mut detectors {
            if let Some(v) = row.get(*i) {
                d.feed(v);
                if n < 2000
                    && let (Some(secs), Some(set)) = (dates::utc_time_of_day(v), utc.get_mut(i))
                {
                    set.insert(secs);
                }
            }
        }
    }
    Scan {
        detected: detectors
            .into_iter()
            .map(|(i, d)| (i, d.result()))
            .collect(),
        blanks,
        utc,
    }
}

/// The first day of a month written `YYYY-MM` or as any date in it.
fn month_of(s: &str, rule: &DateRule) -> Option<Date> {
    let t = s.trim();
    if let Some((y, m)) = t.split_once('-')
        && y.len() == 4
        && m.len() <= 2
        && let (Ok(y), Ok(m)) = (y.parse::<i16>(), m.parse::<i8>())
    {
        return Date::new(y, m, 1).ok();
    }
    let d = dates::parse(t, rule).ok().flatten()?;
    d.first_of_month().into()
}

/// An amount as exports write it: `$1,234.50`, `1 234,50`, `1.234,50`,
/// `12%`. `comma` says a lone comma is the decimal separator.
pub fn parse_amount(s: &str, comma: bool) -> Option<f64> {
    let t: String = s
        .chars()
        .filter(|c| !matches!(c, '$' | '€' | '£' | ' ' | '\u{a0}' | '\'' | '%'))
        .collect();
    let t = t.trim_start_matches("USD").trim_end_matches("USD").trim();
    let (last_dot, last_comma) = (t.rfind('.'), t.rfind(','));
    let plain = match (last_dot, last_comma) {
        (Some(d), Some(c)) if c > d => t.replace('.', "").replace(',', "."),
        (Some(_), Some(_)) => t.replace(',', ""),
        (None, Some(c)) => {
            let decimals = t.len() - c - 1;
            if comma && t.matches(',').count() == 1 && decimals != 3 || comma && decimals < 3 {
                t.replace(',', ".")
            } else {
                t.replace(',', "")
            }
        }
        _ => t.to_string(),
    };
    let x: f64 = plain.parse().ok()?;
    x.is_finite().then_some(x)
}

/// Cuts the data at the as-of date and fills the quality report.
fn cut(mut d: Data, as_of: Option<Date>, q: &mut Quality) -> Data {
    let all_dates = || {
        d.leads
            .iter()
            .flat_map(|l| std::iter::once(Some(l.created)).chain(l.stages))
            .chain(d.deals.iter().flat_map(|x| [Some(x.created), x.closed]))
            .chain(d.touches.iter().map(|t| Some(t.date)))
            .flatten()
            .collect::<Vec<Date>>()
    };
    let mut dates = all_dates();
    dates.sort_unstable();
    let bulk_end = dates
        .get(dates.len().saturating_sub(1 + dates.len() / 1000))
        .copied()
        .unwrap_or(Date::MIN);
    let late = bulk_end
        .checked_add(jiff::Span::new().days(366))
        .unwrap_or(Date::MAX);
    let early = jiff::civil::date(1990, 1, 1);
    let inside = |x: &Date| *x >= early && *x <= late;
    q.dates_outside_span = dates.iter().filter(|x| !inside(x)).count();
    q.first_date = dates.iter().find(|x| inside(x)).map(ToString::to_string);
    let last = dates.iter().rev().find(|x| inside(x)).copied();
    q.last_date = last.map(|x| x.to_string());
    let as_of_date = as_of.or(last).unwrap_or(Date::MIN);
    q.as_of = as_of_date.to_string();
    q.as_of_given = as_of.is_some();
    let after = |x: &Date| *x > as_of_date;
    let before = d.leads.len() + d.deals.len() + d.touches.len();
    d.leads.retain(|l| !after(&l.created));
    for l in &mut d.leads {
        // A rejection is known once the lead was an MQL by then (the
        // export keeps no date of the decision itself).
        if l.stages[0].is_some_and(|x| after(&x)) {
            l.rejected = false;
        }
        for s in &mut l.stages {
            if s.is_some_and(|x| after(&x)) {
                *s = None;
            }
        }
    }
    d.deals.retain(|x| !after(&x.created));
    for x in &mut d.deals {
        if x.closed.is_some_and(|c| after(&c)) {
            x.closed = None;
            x.status = Status::Open;
            x.stage = "open at the as-of date".into();
        }
    }
    d.touches.retain(|t| !after(&t.date));
    d.costs.retain(|c| !after(&c.month));
    q.hidden_after_as_of = before - (d.leads.len() + d.deals.len() + d.touches.len());
    let leads: Map<&str, &Lead> = d.leads.iter().map(|l| (l.id.as_str(), l)).collect();
    let mut longest = 0i64;
    for x in &d.deals {
        if let Some(c) = x.closed {
            let days = days(x.created, c);
            if days < 0 {
                q.deals_closed_before_created += 1;
            }
            longest = longest.max(days);
            if let Some(l) = x.lead.as_deref().and_then(|id| leads.get(id))
                && c < l.created
            {
                q.deals_closed_before_their_lead += 1;
            }
        }
        if x.lead.as_deref().is_some_and(|id| !leads.contains_key(id)) {
            q.deals_not_joining += 1;
        }
    }
    q.stale_open_deals = d
        .deals
        .iter()
        .filter(|x| x.status == Status::Open && days(x.created, as_of_date) > longest)
        .count();
    q.touches_not_joining = d
        .touches
        .iter()
        .filter(|t| !leads.contains_key(t.lead.as_str()))
        .count();
    d.as_of = as_of_date;
    d.quality = q.clone();
    d
}

/// Whole days from `a` to `b`.
pub fn days(a: Date, b: Date) -> i64 {
    a.until(b).map_or(0, |s| i64::from(s.get_days()))
}

/// `d` moved by `n` days (left where it is past the calendar's ends).
pub fn plus_days(d: Date, n: i64) -> Date {
    d.checked_add(jiff::Span::new().days(n)).unwrap_or(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_the_usual_forms() {
        for (s, comma, x) in [
            ("1234.5", false, 1234.5),
            ("$1,234.50", false, 1234.5),
            ("1.234,50", true, 1234.5),
            ("1 234,5", true, 1234.5),
            ("12,5", true, 12.5),
            ("12,500", false, 12_500.0),
            ("1,234,567", false, 1_234_567.0),
            ("40%", false, 40.0),
            ("€ 900", false, 900.0),
        ] {
            assert_eq!(parse_amount(s, comma), Some(x), "{s}");
        }
        assert_eq!(parse_amount("n/a", false), None);
        assert_eq!(parse_amount("1e400", false), None);
    }
}
