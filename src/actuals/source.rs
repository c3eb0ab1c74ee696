//! The data-source file: which export files hold the leads, deals, touches
//! and costs, which of their columns and values mean what, and presets for
//! the usual Salesforce and HubSpot exports.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;

use crate::diag::{InputError, Problem};
use crate::tree::{Sources, Span};

/// A data-source file as written.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSource {
    /// Column names of a known export: "salesforce" (Leads and
    /// Opportunities reports) or "hubspot" (contacts with lifecycle-stage
    /// dates, deals). Keys given here override the preset's.
    pub preset: Option<Preset>,
    /// How dates like 03/04/2024 read: "mdy", "dmy" or "ymd"; by default
    /// detected per column and refused where ambiguous.
    pub date_format: Option<DateOrder>,
    /// The zone whose local dates the export's UTC timestamps stand for
    /// (e.g. "America/New_York"); by default timestamps count in UTC.
    pub time_zone: Option<String>,
    /// The decimal separator of amounts: "." (default) or ",".
    pub decimal: Option<String>,
    pub leads: Option<LeadColumns>,
    pub deals: Option<DealColumns>,
    pub touches: Option<TouchColumns>,
    pub costs: Option<CostColumns>,
    /// Aliases that normalise values: `[values.source]`, `[values.product]`,
    /// `[values.owner]`, each `"as written" = "as meant"` (an empty key
    /// names what a blank becomes).
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    /// Follow-up agreed for MQLs: within `days`, at least `touches`.
    pub sla: Option<Sla>,
    /// Which sources sales generates itself; a lead or deal from them with
    /// an earlier marketing touch or marketing-sourced record is
    /// marketing-influenced.
    #[serde(default)]
    pub sales_sources: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    Salesforce,
    Hubspot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DateOrder {
    Mdy,
    Dmy,
    Ymd,
}

/// Dates at which a lead entered each stage (column names).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageColumns {
    pub mql: Option<String>,
    pub sal: Option<String>,
    pub sql: Option<String>,
    pub opportunity: Option<String>,
}

/// The leads export (contacts, for HubSpot).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadColumns {
    pub file: Option<String>,
    pub id: Option<String>,
    pub created: Option<String>,
    pub source: Option<String>,
    pub score: Option<String>,
    pub owner: Option<String>,
    /// A person or company key, to find earlier records of the same buyer.
    pub account: Option<String>,
    pub stages: Option<StageColumns>,
    /// The disposition column (e.g. "Lead Status").
    pub status: Option<String>,
    /// Values of `status` that mean sales rejected the lead.
    pub rejected: Option<Vec<String>>,
    /// The rejection reason column.
    pub reason: Option<String>,
}

/// The deals export (opportunities).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DealColumns {
    pub file: Option<String>,
    pub id: Option<String>,
    /// The lead's id, to join deals to leads.
    pub lead: Option<String>,
    pub created: Option<String>,
    pub closed: Option<String>,
    pub amount: Option<String>,
    /// The column whose values say won, lost or open (e.g. "Stage").
    pub status: Option<String>,
    pub won: Option<Vec<String>>,
    pub lost: Option<Vec<String>>,
    /// Every row of the file has this status ("won", "lost", "open").
    pub constant_status: Option<String>,
    pub source: Option<String>,
    pub owner: Option<String>,
    pub product: Option<String>,
    pub probability: Option<String>,
    pub forecast_category: Option<String>,
    pub expected_close: Option<String>,
}

/// Activities: which lead was touched when, how.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TouchColumns {
    pub file: Option<String>,
    pub lead: Option<String>,
    pub date: Option<String>,
    pub kind: Option<String>,
    /// Kinds that are marketing's (emails, ads, events): what counts as
    /// influence; every other kind is a sales follow-up.
    #[serde(default)]
    pub marketing: Vec<String>,
}

/// Spend by channel and month.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CostColumns {
    pub file: Option<String>,
    pub channel: Option<String>,
    /// The month, as a date in it or `YYYY-MM`.
    pub month: Option<String>,
    pub amount: Option<String>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sla {
    pub days: u32,
    #[serde(default = "one")]
    pub touches: u32,
}

fn one() -> u32 {
    1
}

/// The column names of a preset's exports: the leads (id, created, source,
/// score, owner, account, status, reason, then the MQL, SAL, SQL and
/// opportunity dates) and the deals (id, lead, created, closed, amount,
/// stage, source, owner, product, probability, forecast category).
pub fn preset_columns(p: Preset) -> ([&'static str; 12], [&'static str; 11]) {
    match p {
        Preset::Salesforce => (
            [
                "Lead ID",
                "Create Date",
                "Lead Source",
                "Score",
                "Lead Owner",
                "Company / Account",
                "Lead Status",
                "Rejection Reason",
                "MQL Date",
                "SAL Date",
                "SQL Date",
                "Converted Date",
            ],
            [
                "Opportunity ID",
                "Lead ID",
                "Created Date",
                "Close Date",
                "Amount",
                "Stage",
                "Lead Source",
                "Opportunity Owner",
                "Product",
                "Probability (%)",
                "Forecast Category",
            ],
        ),
        Preset::Hubspot => (
            [
                "Record ID",
                "Create Date",
                "Original Source",
                "HubSpot Score",
                "Contact owner",
                "Company Name",
                "Lead Status",
                "Disqualification Reason",
                "Became a Marketing Qualified Lead Date",
                "Became a Sales Accepted Lead Date",
                "Became a Sales Qualified Lead Date",
                "Became an Opportunity Date",
            ],
            [
                "Record ID",
                "Associated Contact IDs",
                "Create Date",
                "Close Date",
                "Amount",
                "Deal Stage",
                "Original Source",
                "Deal owner",
                "Product",
                "Deal probability",
                "Forecast category",
            ],
        ),
    }
}

/// Fills what the preset names and the file leaves out.
fn fill(dst: &mut Option<String>, preset: &str) {
    if dst.is_none() && !preset.is_empty() {
        *dst = Some(preset.to_string());
    }
}

impl DataSource {
    /// The file with its preset's column names filled in.
    pub fn with_preset(mut self) -> DataSource {
        let Some(p) = self.preset else {
            return self;
        };
        let (l, d) = preset_columns(p);
        let leads = self.leads.get_or_insert_with(LeadColumns::default);
        for (dst, v) in [
            (&mut leads.id, l[0]),
            (&mut leads.created, l[1]),
            (&mut leads.source, l[2]),
            (&mut leads.score, l[3]),
            (&mut leads.owner, l[4]),
            (&mut leads.account, l[5]),
            (&mut leads.status, l[6]),
            (&mut leads.reason, l[7]),
        ] {
            fill(dst, v);
        }
        let st = leads.stages.get_or_insert_with(StageColumns::default);
        fill(&mut st.mql, l[8]);
        fill(&mut st.sal, l[9]);
        fill(&mut st.sql, l[10]);
        fill(&mut st.opportunity, l[11]);
        if leads.rejected.is_none() {
            leads.rejected = Some(vec![
                "Rejected".into(),
                "Disqualified".into(),
                "Unqualified".into(),
            ]);
        }
        if let Some(deals) = self.deals.as_mut() {
            for (dst, v) in [
                (&mut deals.id, d[0]),
                (&mut deals.lead, d[1]),
                (&mut deals.created, d[2]),
                (&mut deals.closed, d[3]),
                (&mut deals.amount, d[4]),
                (&mut deals.status, d[5]),
                (&mut deals.source, d[6]),
                (&mut deals.owner, d[7]),
                (&mut deals.product, d[8]),
                (&mut deals.probability, d[9]),
                (&mut deals.forecast_category, d[10]),
            ] {
                fill(dst, v);
            }
            let (won, lost) = match p {
                Preset::Salesforce => ("Closed Won", "Closed Lost"),
                Preset::Hubspot => ("closedwon", "closedlost"),
            };
            deals.won.get_or_insert_with(|| vec![won.into()]);
            deals.lost.get_or_insert_with(|| vec![lost.into()]);
        }
        self
    }
}

/// A data-source file read and checked, with its folder (files it names
/// are relative to it).
#[derive(Clone, Debug)]
pub struct Loaded {
    pub spec: DataSource,
    pub path: PathBuf,
    pub dir: PathBuf,
}

impl Loaded {
    /// A file the data-source file names, relative to its folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// Reads a data-source file: strict TOML (unknown keys refused with their
/// place), then what every section needs.
pub fn load(path: &Path) -> Result<Loaded, InputError> {
    let shown = path.display().to_string();
    let bytes = crate::load::read_bytes(path)
        .map_err(|e| InputError::single(&shown, format!("cannot read {shown}: {e}"), None))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        InputError::single(
            &shown,
            "not UTF-8 text",
            Some("save the file as UTF-8".into()),
        )
    })?;
    let mut sources = Sources::default();
    let src = sources.add(shown.clone(), text.clone());
    let spec: DataSource = match toml::from_str(&text) {
        Ok(s) => s,
        Err(e) => {
            let range = e.span().unwrap_or(0..0);
            let p = Problem::new(Span::new(src, range), "", e.message().trim().to_string());
            return Err(InputError::new(&shown, &sources, vec![p]));
        }
    };
    let spec = spec.with_preset();
    let mut missing = Vec::new();
    let need = |sec: &str, key: &str, v: &Option<String>, missing: &mut Vec<String>| {
        if v.is_none() {
            missing.push(format!("[{sec}] needs `{key}`"));
        }
    };
    match &spec.leads {
        Some(l) => {
            need("leads", "file", &l.file, &mut missing);
            need("leads", "id", &l.id, &mut missing);
            need("leads", "created", &l.created, &mut missing);
            need("leads", "source", &l.source, &mut missing);
        }
        None => missing.push("a [leads] section (or a preset with [leads] file = …)".into()),
    }
    if let Some(d) = &spec.deals {
        need("deals", "file", &d.file, &mut missing);
        need("deals", "id", &d.id, &mut missing);
        need("deals", "created", &d.created, &mut missing);
        if d.constant_status.is_none() {
            need("deals", "status", &d.status, &mut missing);
        }
    }
    if let Some(t) = &spec.touches {
        need("touches", "file", &t.file, &mut missing);
        need("touches", "lead", &t.lead, &mut missing);
        need("touches", "date", &t.date, &mut missing);
    }
    if let Some(c) = &spec.costs {
        need("costs", "file", &c.file, &mut missing);
        need("costs", "channel", &c.channel, &mut missing);
        need("costs", "month", &c.month, &mut missing);
        need("costs", "amount", &c.amount, &mut missing);
    }
    if let Some(tz) = &spec.time_zone
        && jiff::tz::TimeZone::get(tz).is_err()
    {
        missing.push(format!(
            "time_zone `{tz}` is not a known zone (e.g. \"Europe/Berlin\")"
        ));
    }
    if let Some(d) = &spec.decimal
        && d != "."
        && d != ","
    {
        missing.push(format!("decimal is \".\" or \",\", not `{d}`"));
    }
    if !missing.is_empty() {
        let problems = missing
            .into_iter()
            .map(|m| Problem::unplaced("", m))
            .collect();
        return Err(InputError::new(&shown, &sources, problems));
    }
    let dir = path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    Ok(Loaded {
        spec,
        path: path.to_path_buf(),
        dir,
    })
}
