//! CRM-shaped exports made from a known model and seed — leads with stage
//! dates, deals, touches and costs in Salesforce-like or HubSpot-like
//! layouts, with the defects real exports have — and the truth they were
//! made from, so that tests can check every report against it.

use std::collections::BTreeMap;

use jiff::civil::Date;
use rand::{Rng, RngExt, SeedableRng};
use rand_distr::{Distribution, LogNormal, Normal};

use super::plus_days;
use super::source::{Preset, preset_columns};

/// What to generate.
#[derive(Clone, Debug)]
pub struct Options {
    pub preset: Preset,
    pub leads: usize,
    pub seed: u64,
    pub start: Date,
    /// Weeks of arrivals; the export is taken at their end.
    pub weeks: u32,
    /// Inject the usual defects (blanks, duplicates, renamed values, stale
    /// deals, a deal naming no lead, and the layout's own date quirks).
    pub defects: bool,
    /// A change of regime: from this week on, acceptance is multiplied by
    /// this factor (for tests of its detection).
    pub shift: Option<(u32, f64)>,
    /// Seasonality of arrivals: a factor per calendar month (January
    /// first), for tests of its estimation.
    pub seasonal: Option<[f64; 12]>,
    /// Lead quality: log-odds per 10 score points above [`QUALITY_REFERENCE`]
    /// added to the SQL, opportunity and win rates (0: none).
    pub quality: f64,
}

/// The score at which the quality lift is zero.
pub const QUALITY_REFERENCE: f64 = 60.0;

impl Default for Options {
    fn default() -> Self {
        Options {
            preset: Preset::Salesforce,
            leads: 4000,
            seed: 1,
            start: jiff::civil::date(2025, 1, 6),
            weeks: 52,
            defects: true,
            shift: None,
            seasonal: None,
            quality: 0.0,
        }
    }
}

/// One lead source of the known model.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceTruth {
    pub name: &'static str,
    pub share: f64,
    pub score_mean: f64,
    pub p_accept: f64,
    pub p_sql: f64,
    pub p_opp: f64,
    pub p_win: f64,
    pub size_median: f64,
    pub cost_per_lead: f64,
}

/// The known model.
pub fn model() -> Vec<SourceTruth> {
    let s = |name, share, score_mean, p_accept, p_sql, p_opp, p_win, size_median, cost_per_lead| {
        SourceTruth {
            name,
            share,
            score_mean,
            p_accept,
            p_sql,
            p_opp,
            p_win,
            size_median,
            cost_per_lead,
        }
    };
    vec![
        s(
            "Paid Search",
            0.30,
            55.0,
            0.45,
            0.60,
            0.70,
            0.22,
            12_000.0,
            90.0,
        ),
        s(
            "Webinar", 0.20, 60.0, 0.55, 0.65, 0.70, 0.25, 15_000.0, 120.0,
        ),
        s(
            "Content", 0.25, 50.0, 0.40, 0.55, 0.65, 0.20, 10_000.0, 40.0,
        ),
        s(
            "Referral", 0.10, 70.0, 0.75, 0.75, 0.80, 0.40, 20_000.0, 0.0,
        ),
        s(
            "Outbound", 0.15, 58.0, 0.60, 0.55, 0.70, 0.25, 18_000.0, 0.0,
        ),
    ]
}

/// The MQL threshold of the known model's scores.
pub const THRESHOLD: f64 = 50.0;
/// Share of untouched MQLs that sales never decides on.
pub const IGNORED: f64 = 0.4;
/// Median days from deal created to closed.
pub const CYCLE_MEDIAN_DAYS: f64 = 60.0;
/// The spread (sigma of the log) of the sales cycle.
pub const CYCLE_SIGMA: f64 = 0.6;

/// Counts of what the exports hold, as of the end of the arrivals,
/// computed from the generated records themselves.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Truth {
    pub as_of: Option<Date>,
    pub leads: usize,
    pub mqls: usize,
    pub sals: usize,
    pub rejected: usize,
    pub sqls: usize,
    pub deals: usize,
    pub wins: usize,
    pub losses: usize,
    pub open: usize,
    pub revenue: f64,
    /// By source: (leads, wins, revenue).
    pub sources: BTreeMap<String, (usize, usize, f64)>,
    pub duplicate_rows: usize,
    pub blank_sources: usize,
    pub stale: usize,
    pub deals_not_joining: usize,
    pub touches: usize,
}

/// The exports (file name, bytes) and the truth.
#[derive(Clone, Debug)]
pub struct Generated {
    pub files: Vec<(String, Vec<u8>)>,
    pub truth: Truth,
}

struct GLead {
    id: String,
    created: Date,
    source: usize,
    score: f64,
    owner: &'static str,
    account: String,
    stages: [Option<Date>; 4],
    rejected: bool,
}

/// A touch: lead id, date, kind.
type GTouch = (String, Date, &'static str);

struct GDeal {
    id: String,
    lead: String,
    created: Date,
    closed: Date,
    won: bool,
    amount: f64,
    source: usize,
    owner: &'static str,
    product: &'static str,
}

const OWNERS: [&str; 4] = ["Ana Ruiz", "Ben Okafor", "Chen Li", "Dee Park"];
const PRODUCTS: [&str; 2] = ["GTX Pro", "GTX Basic"];
const REASONS: [&str; 4] = ["No budget", "Not a fit", "Student", "Competitor"];

/// Draws the records of the known model.
fn draw(o: &Options, rng: &mut impl Rng) -> (Vec<GLead>, Vec<GDeal>, Vec<GTouch>) {
    let model = model();
    let shares: Vec<f64> = model.iter().map(|s| s.share).collect();
    let pick = rand_distr::weighted::WeightedIndex::new(&shares).expect("positive shares");
    let cycle = LogNormal::new(CYCLE_MEDIAN_DAYS.ln(), CYCLE_SIGMA).expect("valid");
    let span = i64::from(o.weeks) * 7;
    let (mut leads, mut deals, mut touches) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..o.leads {
        let src = pick.sample(rng);
        let m = &model[src];
        let mut created = plus_days(o.start, rng.random_range(0..span));
        if let Some(f) = &o.seasonal {
            // Rejection sampling: a day is kept in proportion to its
            // month's factor.
            let most = f.iter().copied().fold(0.0, f64::max);
            while rng.random::<f64>() * most > f[created.month() as usize - 1] {
                created = plus_days(o.start, rng.random_range(0..span));
            }
        }
        let score = Normal::new(m.score_mean, 15.0)
            .expect("valid")
            .sample(rng)
            .clamp(0.0, 100.0);
        let owner = OWNERS[rng.random_range(0..OWNERS.len())];
        let mut l = GLead {
            id: format!("L{:07}", i + 1),
            created,
            source: src,
            score: (score * 10.0).round() / 10.0,
            owner,
            account: format!("Acct {}", rng.random_range(0..o.leads.max(1) * 4)),
            stages: [None; 4],
            rejected: false,
        };
        if l.score >= THRESHOLD {
            let mql = plus_days(created, rng.random_range(0..10));
            l.stages[0] = Some(mql);
            // Follow-up: calls and emails within days of the MQL.
            let n = rng.random_range(0..4);
            for k in 0..n {
                touches.push((
                    l.id.clone(),
                    plus_days(mql, rng.random_range(0..4) + k),
                    if k % 2 == 0 { "Call" } else { "Email" },
                ));
            }
            // Some MQLs nobody ever follows up: no touch, no decision.
            if n == 0 && rng.random::<f64>() < IGNORED {
                leads.push(l);
                continue;
            }
            let factor = match o.shift {
                Some((week, f)) if created >= plus_days(o.start, i64::from(week) * 7) => f,
                _ => 1.0,
            };
            if rng.random::<f64>() < (m.p_accept * factor).min(1.0) {
                let sal = plus_days(mql, rng.random_range(0..6));
                l.stages[1] = Some(sal);
                let lift = |p: f64| {
                    crate::model::shift_log_odds(
                        p,
                        o.quality * (l.score - QUALITY_REFERENCE) / 10.0,
                    )
                };
                if rng.random::<f64>() < lift(m.p_sql) {
                    let sql = plus_days(sal, rng.random_range(1..21));
                    l.stages[2] = Some(sql);
                    if rng.random::<f64>() < lift(m.p_opp) {
                        let opp = plus_days(sql, rng.random_range(1..21));
                        l.stages[3] = Some(opp);
                        let size = LogNormal::new(m.size_median.ln(), 0.5)
                            .expect("valid")
                            .sample(rng);
                        deals.push(GDeal {
                            id: format!("D{:07}", deals.len() + 1),
                            lead: l.id.clone(),
                            created: opp,
                            closed: plus_days(opp, cycle.sample(rng).round() as i64),
                            won: rng.random::<f64>() < lift(m.p_win),
                            amount: (size / 10.0).round() * 10.0,
                            source: src,
                            owner,
                            product: PRODUCTS[rng.random_range(0..PRODUCTS.len())],
                        });
                    }
                }
            } else {
                l.rejected = true;
            }
        }
        // Marketing touches some outbound leads first.
        if m.name == "Outbound" && rng.random::<f64>() < 0.3 {
            touches.push((
                l.id.clone(),
                plus_days(created, -rng.random_range(1..60)),
                "Marketing Email",
            ));
        }
        leads.push(l);
    }
    (leads, deals, touches)
}

/// Makes the exports.
pub fn generate(o: &Options) -> Generated {
    let mut rng = rand::rngs::StdRng::seed_from_u64(o.seed);
    let (leads, mut deals, touches) = draw(o, &mut rng);
    let as_of = plus_days(o.start, i64::from(o.weeks) * 7 - 1);
    let model = model();
    let mut truth = Truth {
        as_of: Some(as_of),
        touches: touches.iter().filter(|t| t.1 <= as_of).count(),
        ..Truth::default()
    };
    if o.defects {
        // Deals open for three years, and two naming leads that do not exist.
        for (k, l) in leads.iter().take(5).enumerate() {
            deals.push(GDeal {
                id: format!("DSTALE{k}"),
                lead: l.id.clone(),
                created: plus_days(o.start, -3 * 365 - k as i64),
                closed: plus_days(as_of, 400),
                won: false,
                amount: 50_000.0,
                source: l.source,
                owner: OWNERS[0],
                product: PRODUCTS[0],
            });
        }
        for k in 0..2 {
            deals.push(GDeal {
                id: format!("DORPHAN{k}"),
                lead: format!("LGONE{k}"),
                created: plus_days(o.start, 10),
                closed: plus_days(o.start, 40),
                won: true,
                amount: 9_000.0,
                source: 0,
                owner: OWNERS[1],
                product: PRODUCTS[1],
            });
        }
        truth.stale = 5;
        truth.deals_not_joining = 2;
    }
    // Blank and renamed sources, as a real export has them.
    let written_source = |i: usize, l: &GLead| -> (String, bool) {
        let name = model[l.source].name;
        match (o.defects, i % 50, i % 7) {
            (true, 7, _) => (String::new(), true),
            (true, _, 5) if name == "Paid Search" => ("paid search".to_string(), false),
            _ => (name.to_string(), false),
        }
    };
    for (i, l) in leads.iter().enumerate() {
        let (written, blank) = written_source(i, l);
        let source = if blank {
            "Unknown".to_string()
        } else {
            model[l.source].name.to_string()
        };
        let _ = written;
        truth.blank_sources += usize::from(blank);
        truth.leads += 1;
        let e = truth.sources.entry(source).or_default();
        e.0 += 1;
        let seen = |d: Option<Date>| d.is_some_and(|x| x <= as_of);
        truth.mqls += usize::from(seen(l.stages[0]));
        truth.sals += usize::from(seen(l.stages[1]));
        truth.sqls += usize::from(seen(l.stages[2]));
        truth.rejected += usize::from(l.rejected && seen(l.stages[0]));
    }
    let lead_source: BTreeMap<&str, String> = leads
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let (_, blank) = written_source(i, l);
            (
                l.id.as_str(),
                if blank {
                    "Unknown".to_string()
                } else {
                    model[l.source].name.to_string()
                },
            )
        })
        .collect();
    for x in deals.iter().filter(|x| x.created <= as_of) {
        truth.deals += 1;
        let source = lead_source
            .get(x.lead.as_str())
            .cloned()
            .unwrap_or_else(|| model[x.source].name.to_string());
        if x.closed <= as_of {
            if x.won {
                truth.wins += 1;
                truth.revenue += x.amount;
                let e = truth.sources.entry(source).or_default();
                e.1 += 1;
                e.2 += x.amount;
            } else {
                truth.losses += 1;
            }
        } else {
            truth.open += 1;
        }
    }
    let dup_every = if o.defects { 200 } else { usize::MAX };
    truth.duplicate_rows = if o.defects {
        leads.len().div_ceil(dup_every)
    } else {
        0
    };
    let files = match o.preset {
        Preset::Salesforce => salesforce(
            o,
            &leads,
            &deals,
            &touches,
            &written_source,
            dup_every,
            as_of,
        ),
        Preset::Hubspot => hubspot(
            o,
            &leads,
            &deals,
            &touches,
            &written_source,
            dup_every,
            as_of,
        ),
    };
    Generated { files, truth }
}

type Written<'a> = &'a dyn Fn(usize, &GLead) -> (String, bool);

fn csv_bytes(
    delimiter: u8,
    header: &[&str],
    rows: &[Vec<String>],
    crlf: bool,
    bom: bool,
) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .terminator(if crlf {
            csv::Terminator::CRLF
        } else {
            csv::Terminator::Any(b'\n')
        })
        .from_writer(Vec::new());
    let _ = w.write_record(header);
    for r in rows {
        let _ = w.write_record(r);
    }
    let mut bytes = if bom {
        b"\xEF\xBB\xBF".to_vec()
    } else {
        Vec::new()
    };
    bytes.extend(w.into_inner().unwrap_or_default());
    bytes
}

/// Rows of the leads export, with every `dup_every`-th row written twice.
fn lead_rows(
    leads: &[GLead],
    written: Written,
    dup_every: usize,
    as_of: Date,
    date: &dyn Fn(Option<Date>) -> String,
    status: &dyn Fn(&GLead) -> String,
) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for (i, l) in leads.iter().enumerate() {
        let cut = |d: Option<Date>| date(d.filter(|x| *x <= as_of));
        let row = vec![
            l.id.clone(),
            date(Some(l.created)),
            written(i, l).0,
            format!("{}", l.score),
            l.owner.to_string(),
            l.account.clone(),
            status(l),
            if l.rejected && l.stages[0].is_some_and(|x| x <= as_of) {
                REASONS[i % REASONS.len()].to_string()
            } else {
                String::new()
            },
            cut(l.stages[0]),
            cut(l.stages[1]),
            cut(l.stages[2]),
            cut(l.stages[3]),
        ];
        if i % dup_every == 0 {
            rows.push(row.clone());
        }
        rows.push(row);
    }
    rows
}

fn costs_rows(o: &Options, leads: &[GLead]) -> Vec<Vec<String>> {
    let model = model();
    let mut spend: BTreeMap<(String, String), f64> = BTreeMap::new();
    for l in leads {
        let key = (
            model[l.source].name.to_string(),
            format!("{}-{:02}", l.created.year(), l.created.month()),
        );
        *spend.entry(key).or_insert(0.0) += model[l.source].cost_per_lead;
    }
    let _ = o;
    spend
        .into_iter()
        .filter(|(_, v)| *v > 0.0)
        .map(|((c, m), v)| vec![c, m, format!("{v:.2}")])
        .collect()
}

fn salesforce(
    o: &Options,
    leads: &[GLead],
    deals: &[GDeal],
    touches: &[GTouch],
    written: Written,
    dup_every: usize,
    as_of: Date,
) -> Vec<(String, Vec<u8>)> {
    // US dates (month first), "$1,234.00" amounts, comma-separated.
    let date = |d: Option<Date>| {
        d.map_or(String::new(), |d| {
            format!("{}/{}/{}", d.month(), d.day(), d.year())
        })
    };
    let status = |l: &GLead| -> String {
        if l.rejected && l.stages[0].is_some_and(|x| x <= as_of) {
            "Rejected".into()
        } else if l.stages[3].is_some_and(|x| x <= as_of) {
            "Converted".into()
        } else if l.stages[1].is_some_and(|x| x <= as_of) {
            "Working".into()
        } else {
            "Open".into()
        }
    };
    let (header, dheader) = preset_columns(Preset::Salesforce);
    let lrows = lead_rows(leads, written, dup_every, as_of, &date, &status);
    let money = |x: f64| {
        let whole = x.trunc() as i64;
        let mut s = whole.to_string();
        let mut i = s.len() as i64 - 3;
        while i > 0 {
            s.insert(i as usize, ',');
            i -= 3;
        }
        format!("${s}.00")
    };
    let model = model();
    let drows: Vec<Vec<String>> = deals
        .iter()
        .filter(|x| x.created <= as_of)
        .enumerate()
        .map(|(i, x)| {
            let closed = x.closed <= as_of;
            let stage = match (closed, x.won) {
                (true, true) => "Closed Won",
                (true, false) => "Closed Lost",
                _ if i % 2 == 0 => "Prospecting",
                _ => "Negotiation/Review",
            };
            let product = if o.defects && x.product == "GTX Pro" && i % 10 == 3 {
                "GTXPro"
            } else {
                x.product
            };
            vec![
                x.id.clone(),
                x.lead.clone(),
                date(Some(x.created)),
                date(Some(if closed {
                    x.closed
                } else {
                    plus_days(as_of, 30)
                })),
                money(x.amount),
                stage.to_string(),
                model[x.source].name.to_string(),
                x.owner.to_string(),
                product.to_string(),
                if closed {
                    if x.won { "100" } else { "0" }
                } else {
                    "40"
                }
                .to_string(),
                if closed {
                    "Closed"
                } else if i % 3 == 0 {
                    "Commit"
                } else {
                    "Pipeline"
                }
                .to_string(),
            ]
        })
        .collect();

    let trows: Vec<Vec<String>> = touches
        .iter()
        .filter(|t| t.1 <= as_of)
        .map(|(l, d, k)| vec![l.clone(), date(Some(*d)), k.to_string()])
        .collect();
    let toml = format!(
        "# Generated by `revplan generate-crm --preset salesforce --leads {} --seed {}`:\n\
         # Salesforce-like Leads and Opportunities reports, with the usual defects.\n\
         preset = \"salesforce\"\nsales_sources = [\"Outbound\"]\n\n\
         [leads]\nfile = \"leads.csv\"\n\n[deals]\nfile = \"opportunities.csv\"\n\n\
         [touches]\nfile = \"activities.csv\"\nlead = \"Lead ID\"\ndate = \"Activity Date\"\nkind = \"Type\"\nmarketing = [\"Marketing Email\"]\n\n\
         [costs]\nfile = \"costs.csv\"\nchannel = \"Channel\"\nmonth = \"Month\"\namount = \"Cost\"\n\n\
         [sla]\ndays = 2\ntouches = 2\n\n\
         [values.source]\n\"\" = \"Unknown\"\n\"paid search\" = \"Paid Search\"\n\n\
         [values.product]\nGTXPro = \"GTX Pro\"\n",
        o.leads, o.seed
    );
    vec![
        ("data.toml".into(), toml.into_bytes()),
        (
            "leads.csv".into(),
            csv_bytes(b',', &header, &lrows, false, false),
        ),
        (
            "opportunities.csv".into(),
            csv_bytes(b',', &dheader, &drows, false, false),
        ),
        (
            "activities.csv".into(),
            csv_bytes(
                b',',
                &["Lead ID", "Activity Date", "Type"],
                &trows,
                false,
                false,
            ),
        ),
        (
            "costs.csv".into(),
            csv_bytes(
                b',',
                &["Channel", "Month", "Cost"],
                &costs_rows(o, leads),
                false,
                false,
            ),
        ),
    ]
}

fn hubspot(
    o: &Options,
    leads: &[GLead],
    deals: &[GDeal],
    touches: &[GTouch],
    written: Written,
    dup_every: usize,
    as_of: Date,
) -> Vec<(String, Vec<u8>)> {
    // Local midnights in Berlin stored as UTC timestamps (23:00 the day before); `;`-separated
    // with decimal commas, a BOM and CRLF, as a European Excel saves it.
    let ny = jiff::tz::TimeZone::get("Europe/Berlin").expect("bundled zone");
    let date = move |d: Option<Date>| {
        d.and_then(|d| d.to_zoned(ny.clone()).ok())
            .map_or(String::new(), |z| {
                z.timestamp().strftime("%Y-%m-%dT%H:%M:%S.000Z").to_string()
            })
    };
    let status = |l: &GLead| -> String {
        if l.rejected && l.stages[0].is_some_and(|x| x <= as_of) {
            "Unqualified".into()
        } else if l.stages[1].is_some_and(|x| x <= as_of) {
            "In Progress".into()
        } else {
            "New".into()
        }
    };
    let (header, dheader) = preset_columns(Preset::Hubspot);
    let lrows = lead_rows(leads, written, dup_every, as_of, &date, &status);
    let model = model();
    let drows: Vec<Vec<String>> = deals
        .iter()
        .filter(|x| x.created <= as_of)
        .enumerate()
        .map(|(i, x)| {
            let closed = x.closed <= as_of;
            let stage = match (closed, x.won) {
                (true, true) => "closedwon",
                (true, false) => "closedlost",
                _ if i % 2 == 0 => "appointmentscheduled",
                _ => "contractsent",
            };
            let product = if o.defects && x.product == "GTX Pro" && i % 10 == 3 {
                "GTXPro"
            } else {
                x.product
            };
            vec![
                x.id.clone(),
                x.lead.clone(),
                date(Some(x.created)),
                if closed {
                    date(Some(x.closed))
                } else {
                    String::new()
                },
                format!("{:.2}", x.amount).replace('.', ","),
                stage.to_string(),
                model[x.source].name.to_string(),
                x.owner.to_string(),
                product.to_string(),
                if closed {
                    if x.won { "1" } else { "0" }
                } else {
                    "0,4"
                }
                .to_string(),
                if closed { "Closed won" } else { "Pipeline" }.to_string(),
            ]
        })
        .collect();

    let trows: Vec<Vec<String>> = touches
        .iter()
        .filter(|t| t.1 <= as_of)
        .map(|(l, d, k)| vec![l.clone(), date(Some(*d)), k.to_string()])
        .collect();
    let crows: Vec<Vec<String>> = costs_rows(o, leads)
        .into_iter()
        .map(|mut r| {
            r[2] = r[2].replace('.', ",");
            r
        })
        .collect();
    let toml = format!(
        "# Generated by `revplan generate-crm --preset hubspot --leads {} --seed {}`:\n\
         # HubSpot-like contacts and deals exports, with the usual defects.\n\
         preset = \"hubspot\"\ntime_zone = \"Europe/Berlin\"\ndecimal = \",\"\nsales_sources = [\"Outbound\"]\n\n\
         [leads]\nfile = \"contacts.csv\"\n\n[deals]\nfile = \"deals.csv\"\n\n\
         [touches]\nfile = \"activities.csv\"\nlead = \"Contact ID\"\ndate = \"Activity date\"\nkind = \"Activity type\"\nmarketing = [\"Marketing Email\"]\n\n\
         [costs]\nfile = \"costs.csv\"\nchannel = \"Channel\"\nmonth = \"Month\"\namount = \"Cost\"\n\n\
         [sla]\ndays = 2\ntouches = 2\n\n\
         [values.source]\n\"\" = \"Unknown\"\n\"paid search\" = \"Paid Search\"\n\n\
         [values.product]\nGTXPro = \"GTX Pro\"\n",
        o.leads, o.seed
    );
    vec![
        ("data.toml".into(), toml.into_bytes()),
        (
            "contacts.csv".into(),
            csv_bytes(b';', &header, &lrows, true, true),
        ),
        (
            "deals.csv".into(),
            csv_bytes(b';', &dheader, &drows, true, true),
        ),
        (
            "activities.csv".into(),
            csv_bytes(
                b';',
                &["Contact ID", "Activity date", "Activity type"],
                &trows,
                true,
                true,
            ),
        ),
        (
            "costs.csv".into(),
            csv_bytes(b';', &["Channel", "Month", "Cost"], &crows, true, true),
        ),
    ]
}
