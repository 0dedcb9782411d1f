//! The bilingual data files shipped with puente (`data/program.toml`, `data/indicators.toml`):
//! embedded in the binary so it works from any directory, and parsed into domain types.
//!
//! The file formats are this module's; the domain checks every value (codes, both languages,
//! lengths, periods) through its own constructors, so a bad edit to a node's `program.toml` is
//! reported with the field that is wrong.

use std::collections::BTreeMap;

use anyhow::{Context, Result, anyhow};
use puente_domain::{
    AreaCode, Direction, IndicatorDraft, LocalizedText, MeasureArea, PartyCode, Period, Program,
    Target,
};
use serde::Deserialize;

/// The measure areas of the 2025-09-03 joint statement.
pub const PROGRAM_TOML: &str = include_str!("../../../data/program.toml");
/// The program's indicators, with the figures of the 2025-09-03 press conference.
pub const INDICATORS_TOML: &str = include_str!("../../../data/indicators.toml");

const MAX_AREA_NAME: usize = 200;
const MAX_AREA_DESCRIPTION: usize = 4000;
const MAX_INDICATOR_NAME: usize = 300;

/// Bilingual text as written in the files: a table of language tag to text.
type TextTable = BTreeMap<String, String>;

fn localized(pointer: &str, table: &TextTable, max: usize) -> Result<LocalizedText> {
    Ok(LocalizedText::parse(
        pointer,
        table.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        max,
    )?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProgramFile {
    area: Vec<AreaEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AreaEntry {
    code: String,
    name: TextTable,
    description: TextTable,
}

/// Parses a program file (the shipped one or a node's edited copy).
pub fn parse_program(text: &str) -> Result<Program> {
    let file: ProgramFile = toml::from_str(text)?;
    let mut areas = Vec::with_capacity(file.area.len());
    for (i, a) in file.area.iter().enumerate() {
        let code = AreaCode::parse(&a.code).ok_or_else(|| {
            anyhow!(
                "/area/{i}/code: {:?} is not an area code (lower-case letters and dashes)",
                a.code
            )
        })?;
        areas.push(MeasureArea {
            code,
            name: localized(&format!("/area/{i}/name"), &a.name, MAX_AREA_NAME)?,
            description: localized(
                &format!("/area/{i}/description"),
                &a.description,
                MAX_AREA_DESCRIPTION,
            )?,
        });
    }
    Ok(Program::new(areas)?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IndicatorsFile {
    indicator: Vec<IndicatorEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IndicatorEntry {
    code: String,
    area: Option<String>,
    name: TextTable,
    unit: String,
    direction: String,
    baseline: PeriodValue,
    #[serde(default)]
    targets: Vec<PeriodValue>,
    #[serde(default)]
    measurement: Vec<MeasurementEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PeriodValue {
    period: String,
    value: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MeasurementEntry {
    period: String,
    party: String,
    value: f64,
    source: String,
    /// The sentence the value comes from: documentation for the reader of the file, not loaded.
    #[allow(dead_code)]
    quote: Option<String>,
}

/// An indicator ready to store, with the measurements that come with it.
#[derive(Debug, Clone)]
pub struct IndicatorSeed {
    pub draft: IndicatorDraft,
    pub measurements: Vec<MeasurementSeed>,
}

/// A measurement of an indicator not stored yet (it needs the indicator's id).
#[derive(Debug, Clone)]
pub struct MeasurementSeed {
    pub period: Period,
    pub party: PartyCode,
    pub value: f64,
    pub source: String,
}

fn period(pointer: &str, s: &str) -> Result<Period> {
    Period::parse(s)
        .ok_or_else(|| anyhow!("{pointer}: {s:?} is not a period (write 2025, 2025Q3 or 2025-09)"))
}

/// Parses an indicators file against the program whose areas it refers to.
pub fn parse_indicators(text: &str, program: &Program) -> Result<Vec<IndicatorSeed>> {
    let file: IndicatorsFile = toml::from_str(text)?;
    file.indicator
        .iter()
        .enumerate()
        .map(|(i, e)| {
            parse_indicator(i, e, program).with_context(|| format!("indicator {}", e.code))
        })
        .collect()
}

fn parse_indicator(i: usize, e: &IndicatorEntry, program: &Program) -> Result<IndicatorSeed> {
    let at = format!("/indicator/{i}");
    let area = e
        .area
        .as_deref()
        .map(|a| program.parse_area(&format!("{at}/area"), a))
        .transpose()?;
    let direction = Direction::parse(&e.direction).ok_or_else(|| {
        anyhow!(
            "{at}/direction: {:?} is neither higher-is-better nor lower-is-better",
            e.direction
        )
    })?;
    let baseline_period = period(&format!("{at}/baseline/period"), &e.baseline.period)?;
    let targets = e
        .targets
        .iter()
        .enumerate()
        .map(|(j, t)| {
            Ok(Target {
                period: period(&format!("{at}/targets/{j}/period"), &t.period)?,
                value: t.value,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let draft = IndicatorDraft::new(
        &e.code,
        area,
        localized(&format!("{at}/name"), &e.name, MAX_INDICATOR_NAME)?,
        &e.unit,
        direction,
        e.baseline.value,
        baseline_period,
        targets,
    )
    .map_err(|err| anyhow!("{at}: {err}"))?;
    let measurements = e
        .measurement
        .iter()
        .enumerate()
        .map(|(j, m)| {
            let p = format!("{at}/measurement/{j}");
            Ok(MeasurementSeed {
                period: period(&format!("{p}/period"), &m.period)?,
                party: PartyCode::parse(&m.party).map_err(|err| anyhow!("{p}/party: {err}"))?,
                value: m.value,
                source: m.source.clone(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(IndicatorSeed {
        draft,
        measurements,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_program_has_the_seven_areas_in_both_languages() {
        let program = parse_program(PROGRAM_TOML).unwrap();
        let codes: Vec<_> = program.areas().iter().map(|a| a.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "counter-cartels",
                "border-security",
                "illicit-finance",
                "fuel-theft",
                "drugs-and-arms",
                "migration",
                "public-health"
            ]
        );
        for a in program.areas() {
            assert_ne!(a.name.en(), a.name.es(), "{}", a.code);
            assert!(
                !a.description.es().contains('\n'),
                "{}: stray line break",
                a.code
            );
        }
    }

    #[test]
    fn the_shipped_indicators_carry_the_figures_of_the_press_conference() {
        let program = parse_program(PROGRAM_TOML).unwrap();
        let seeds = parse_indicators(INDICATORS_TOML, &program).unwrap();
        let figures: Vec<String> = seeds
            .iter()
            .flat_map(|s| {
                s.measurements
                    .iter()
                    .map(|m| format!("{} {} {} {}", s.draft.code, m.period, m.party, m.value))
            })
            .collect();
        assert_eq!(
            figures,
            [
                "BORDER-ENCOUNTERS 2025-08 US -93",
                "CRIME-MX 2025-07 MX -32",
                "FENTANYL-SEIZURES 2025-08 US -50",
                "PERSONS-TRANSFERRED 2025-08 MX 55",
                "PERSONS-TRANSFERRED 2025-09 MX 59",
            ]
        );
        for s in &seeds {
            assert!(
                s.draft.area.is_some() && !s.draft.targets.is_empty(),
                "{}",
                s.draft.code
            );
            for m in &s.measurements {
                assert!(m.source.contains("2025-09-03"));
            }
        }
    }

    #[test]
    fn a_missing_spanish_text_is_named() {
        let text = "[[area]]\ncode = \"fuel-theft\"\nname.en = \"Fuel theft\"\n\
                    description.en = \"x\"\ndescription.es = \"y\"\n";
        let err = parse_program(text).unwrap_err().to_string();
        assert!(err.contains("/area/0/name/es"), "{err}");
    }

    #[test]
    fn an_unknown_area_is_named() {
        let program = parse_program(PROGRAM_TOML).unwrap();
        let text = "[[indicator]]\ncode = \"X\"\narea = \"piracy\"\nname = { en = \"a\", es = \"b\" }\n\
                    unit = \"n\"\ndirection = \"lower-is-better\"\n\
                    baseline = { value = 0, period = \"2024\" }\n";
        let err = format!("{:#}", parse_indicators(text, &program).unwrap_err());
        assert!(err.contains("/indicator/0/area"), "{err}");
    }
}
