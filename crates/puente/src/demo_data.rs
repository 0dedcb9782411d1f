//! Fictional demonstration data for the demo's two nodes: for each party, commitments across
//! the program's areas (its own, and joint ones with the other party, whose agreed text both
//! nodes record alike), actions with outputs taken by its own agencies, and two meetings of the
//! implementation group with decisions and follow-ups.
//!
//! Everything here is invented to show the system at work: agencies are real institutions, but
//! every figure, case reference, date and person is fictional. It is loaded through the `Store`
//! trait like any other write, so it is audited like any other write. Dates are fixed (program
//! start 2025-09) so the demo is the same on every run; statuses are computed from them on the
//! day the demo runs.

use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use puente_domain::{
    ActionDraft, CommitmentDraft, FollowUp, LocalizedText, MeetingDecision, MeetingDraft, Output,
    Owners, PartyCode, Program, RecordMeta,
};
use puente_store::{Store, WriteCtx};
use time::Date;
use time::macros::date;
use uuid::Uuid;

use crate::node::now;

/// Who the audit trail names for the demo data: the demo's program officer.
pub const DEMO_ACTOR: &str = "officer";

/// A commitment of the demo, with the actions taken on it.
struct DemoCommitment {
    area: &'static str,
    title: (&'static str, &'static str),
    description: (&'static str, &'static str),
    joint: bool,
    agency: &'static str,
    start: Date,
    due: Date,
    indicators: &'static [&'static str],
    actions: &'static [DemoAction],
}

struct DemoAction {
    date: Date,
    agency: &'static str,
    description: (&'static str, &'static str),
    outputs: &'static [(f64, &'static str, &'static str)],
    evidence: &'static [&'static str],
    completes: bool,
}

// The joint commitments' text: what both governments agreed, recorded alike on both nodes.
const TRANSFERS_TITLE: (&str, &str) = (
    "Coordinate the transfer of high-value targets to face charges",
    "Coordinar el traslado de objetivos prioritarios para enfrentar cargos",
);
const TRANSFERS_DESCRIPTION: (&str, &str) = (
    "Each party, within its own law, prepares and executes transfers of persons wanted in the United States; the United States receives them and presents them before federal courts.",
    "Cada parte, conforme a su propia ley, prepara y ejecuta los traslados de personas requeridas en Estados Unidos; Estados Unidos las recibe y las presenta ante tribunales federales.",
);

const TUNNEL_NOTICE_TITLE: (&str, &str) = (
    "Notify the other party of every cross-border tunnel within 48 hours",
    "Notificar a la otra parte cada túnel transfronterizo en un plazo de 48 horas",
);
const TUNNEL_NOTICE_DESCRIPTION: (&str, &str) = (
    "Each party notifies the other of every cross-border tunnel it detects within 48 hours, so that each can close its own end.",
    "Cada parte notifica a la otra cada túnel transfronterizo que detecte en un plazo de 48 horas, para que cada una clausure su propio extremo.",
);

const SMUGGLING_TITLE: (&str, &str) = (
    "Dismantle human smuggling networks along the northern corridor",
    "Desarticular redes de tráfico de personas en el corredor del norte",
);
const SMUGGLING_DESCRIPTION: (&str, &str) = (
    "Each party investigates, in its own territory, the smuggling networks that move people to the border, and shares leads with the other.",
    "Cada parte investiga, en su propio territorio, las redes de tráfico ilícito que llevan personas a la frontera, y comparte pistas con la otra.",
);

const CAMPAIGN_TITLE: (&str, &str) = (
    "Run a binational campaign against fentanyl use among young people",
    "Realizar una campaña binacional contra el consumo de fentanilo entre jóvenes",
);
const CAMPAIGN_DESCRIPTION: (&str, &str) = (
    "Design and run, with Mexico's health authorities, a bilingual prevention campaign in border communities.",
    "Diseñar y realizar, con las autoridades de salud de México, una campaña de prevención bilingüe en las comunidades fronterizas.",
);

/// The United States node's commitments: its own, and joint ones with Mexico.
const COMMITMENTS: &[DemoCommitment] = &[
    DemoCommitment {
        area: "counter-cartels",
        title: TRANSFERS_TITLE,
        description: TRANSFERS_DESCRIPTION,
        joint: true,
        agency: "DOJ",
        start: date!(2025 - 09 - 15),
        due: date!(2026 - 12 - 31),
        indicators: &["PERSONS-TRANSFERRED"],
        actions: &[DemoAction {
            date: date!(2025 - 11 - 20),
            agency: "U.S. Marshals Service",
            description: (
                "Received transferred persons at a federal facility and presented them before a federal court.",
                "Se recibió a las personas trasladadas en una instalación federal y se les presentó ante un tribunal federal.",
            ),
            outputs: &[(4.0, "persons", "persons received to face charges")],
            evidence: &["USMS-DEMO-2025-0117"],
            completes: false,
        }],
    },
    DemoCommitment {
        area: "border-security",
        title: (
            "Survey the Arizona–Sonora border for clandestine tunnels",
            "Inspeccionar la frontera entre Arizona y Sonora en busca de túneles clandestinos",
        ),
        description: (
            "Survey the priority segments of the Arizona–Sonora border with ground-penetrating radar and seal, on the U.S. side, every tunnel found.",
            "Inspeccionar con radar de penetración terrestre los tramos prioritarios de la frontera entre Arizona y Sonora y sellar, del lado estadounidense, cada túnel que se encuentre.",
        ),
        joint: false,
        agency: "CBP",
        start: date!(2025 - 10 - 01),
        due: date!(2026 - 04 - 30),
        indicators: &[],
        actions: &[
            DemoAction {
                date: date!(2025 - 12 - 12),
                agency: "CBP",
                description: (
                    "Completed the radar survey of the priority segments near Nogales.",
                    "Se concluyó la inspección con radar de los tramos prioritarios cerca de Nogales.",
                ),
                outputs: &[(42.0, "km", "border surveyed with ground-penetrating radar")],
                evidence: &["CBP-DEMO-TUC-2025-0042"],
                completes: false,
            },
            DemoAction {
                date: date!(2026 - 03 - 18),
                agency: "CBP",
                description: (
                    "Sealed on the U.S. side the last tunnel found by the survey.",
                    "Se selló del lado estadounidense el último túnel hallado en la inspección.",
                ),
                outputs: &[(2.0, "tunnels", "tunnels sealed")],
                evidence: &["CBP-DEMO-TUC-2026-0007"],
                completes: true,
            },
        ],
    },
    DemoCommitment {
        area: "border-security",
        title: TUNNEL_NOTICE_TITLE,
        description: TUNNEL_NOTICE_DESCRIPTION,
        joint: true,
        agency: "CBP",
        start: date!(2025 - 11 - 01),
        due: date!(2027 - 06 - 30),
        indicators: &[],
        actions: &[DemoAction {
            date: date!(2026 - 01 - 22),
            agency: "CBP",
            description: (
                "Notified Mexican authorities of two tunnels detected near San Diego.",
                "Se notificó a las autoridades mexicanas sobre dos túneles detectados cerca de San Diego.",
            ),
            outputs: &[(2.0, "tunnels", "tunnels notified to the other party")],
            evidence: &["CBP-DEMO-SDC-2026-0003"],
            completes: false,
        }],
    },
    DemoCommitment {
        area: "illicit-finance",
        title: (
            "Share financial intelligence on cartel money-laundering networks",
            "Compartir inteligencia financiera sobre redes de lavado de dinero de los cárteles",
        ),
        description: (
            "Share with Mexico's Financial Intelligence Unit, within U.S. law, analyses of the financial networks of designated cartels.",
            "Compartir con la Unidad de Inteligencia Financiera de México, conforme a la ley estadounidense, análisis de las redes financieras de los cárteles designados.",
        ),
        joint: false,
        agency: "FinCEN",
        start: date!(2025 - 10 - 01),
        due: date!(2026 - 06 - 30),
        indicators: &[],
        actions: &[],
    },
    DemoCommitment {
        area: "illicit-finance",
        title: (
            "Publish a joint typology of trade-based money laundering",
            "Publicar una tipología conjunta de lavado de dinero basado en el comercio",
        ),
        description: (
            "Draft, with Mexico, a typology of trade-based money laundering for banks and customs brokers in both countries.",
            "Elaborar, con México, una tipología de lavado de dinero basado en el comercio para los bancos y agentes aduanales de ambos países.",
        ),
        joint: true,
        agency: "FinCEN",
        start: date!(2026 - 01 - 15),
        due: date!(2027 - 01 - 31),
        indicators: &[],
        actions: &[DemoAction {
            date: date!(2026 - 05 - 06),
            agency: "FinCEN",
            description: (
                "Held the first drafting workshop with the Financial Intelligence Unit.",
                "Se realizó el primer taller de redacción con la Unidad de Inteligencia Financiera.",
            ),
            outputs: &[(18.0, "cases", "case studies reviewed")],
            evidence: &[],
            completes: false,
        }],
    },
    DemoCommitment {
        area: "fuel-theft",
        title: (
            "Exchange alerts on illicit fuel shipments at ports of entry",
            "Intercambiar alertas sobre cargamentos ilícitos de combustible en los puertos de entrada",
        ),
        description: (
            "Alert the other party to fuel shipments whose declarations do not match their cargo, at land and sea ports of entry.",
            "Alertar a la otra parte sobre cargamentos de combustible cuyas declaraciones no coinciden con su carga, en puertos de entrada terrestres y marítimos.",
        ),
        joint: true,
        agency: "CBP",
        start: date!(2025 - 09 - 15),
        due: date!(2026 - 12 - 15),
        indicators: &[],
        actions: &[DemoAction {
            date: date!(2026 - 02 - 27),
            agency: "CBP",
            description: (
                "Sent alerts on mis-declared fuel tankers bound for Mexico.",
                "Se enviaron alertas sobre pipas con combustible mal declarado con destino a México.",
            ),
            outputs: &[
                (14.0, "alerts", "alerts sent"),
                (850_000.0, "L", "fuel detained"),
            ],
            evidence: &["CBP-DEMO-LRD-2026-0031"],
            completes: false,
        }],
    },
    DemoCommitment {
        area: "drugs-and-arms",
        title: (
            "Increase outbound inspections of southbound vehicles for firearms",
            "Aumentar las inspecciones de salida de vehículos con rumbo al sur en busca de armas de fuego",
        ),
        description: (
            "Increase outbound inspections at southwest border crossings to stop firearms and ammunition headed to Mexico.",
            "Aumentar las inspecciones de salida en los cruces de la frontera suroeste para detener armas de fuego y municiones con destino a México.",
        ),
        joint: false,
        agency: "CBP",
        start: date!(2025 - 09 - 15),
        due: date!(2026 - 09 - 15),
        indicators: &[],
        actions: &[DemoAction {
            date: date!(2026 - 01 - 09),
            agency: "CBP",
            description: (
                "Ran a month of intensified outbound inspections in El Paso and Laredo.",
                "Se realizó un mes de inspecciones de salida intensificadas en El Paso y Laredo.",
            ),
            outputs: &[
                (340.0, "firearms", "firearms seized"),
                (61_000.0, "rounds", "ammunition seized"),
            ],
            evidence: &["CBP-DEMO-ELP-2026-0002"],
            completes: false,
        }],
    },
    DemoCommitment {
        area: "drugs-and-arms",
        title: (
            "Trace firearms seized in Mexico within ten business days",
            "Rastrear en un plazo de diez días hábiles las armas de fuego aseguradas en México",
        ),
        description: (
            "Answer every trace request for a firearm seized by Mexican authorities within ten business days, and refer the trafficking networks found to investigators.",
            "Responder en un plazo de diez días hábiles cada solicitud de rastreo de un arma de fuego asegurada por autoridades mexicanas, y remitir a los investigadores las redes de tráfico identificadas.",
        ),
        joint: false,
        agency: "ATF",
        start: date!(2025 - 10 - 01),
        due: date!(2027 - 03 - 31),
        indicators: &[],
        actions: &[DemoAction {
            date: date!(2026 - 04 - 15),
            agency: "ATF",
            description: (
                "Answered the first semester's trace requests from Mexican authorities.",
                "Se atendieron las solicitudes de rastreo del primer semestre de las autoridades mexicanas.",
            ),
            outputs: &[(1_250.0, "traces", "firearm traces completed")],
            evidence: &["ATF-DEMO-2026-TR-0415"],
            completes: false,
        }],
    },
    DemoCommitment {
        area: "drugs-and-arms",
        title: (
            "Intensify fentanyl interdiction at ports of entry",
            "Intensificar la interdicción de fentanilo en los puertos de entrada",
        ),
        description: (
            "Expand non-intrusive inspection of northbound cargo and passenger vehicles at southwest border ports of entry.",
            "Ampliar la inspección no intrusiva de vehículos de carga y de pasajeros con rumbo al norte en los puertos de entrada de la frontera suroeste.",
        ),
        joint: false,
        agency: "CBP",
        start: date!(2025 - 09 - 03),
        due: date!(2026 - 12 - 31),
        indicators: &["FENTANYL-SEIZURES"],
        actions: &[DemoAction {
            date: date!(2025 - 12 - 01),
            agency: "CBP",
            description: (
                "Deployed additional scanners at two ports of entry in Arizona.",
                "Se instalaron escáneres adicionales en dos puertos de entrada de Arizona.",
            ),
            outputs: &[
                (120.0, "kg", "fentanyl seized"),
                (6.0, "scanners", "scanners deployed"),
            ],
            evidence: &["CBP-DEMO-NOG-2025-0120"],
            completes: false,
        }],
    },
    DemoCommitment {
        area: "migration",
        title: SMUGGLING_TITLE,
        description: SMUGGLING_DESCRIPTION,
        joint: true,
        agency: "HSI",
        start: date!(2025 - 09 - 15),
        due: date!(2026 - 08 - 31),
        indicators: &["BORDER-ENCOUNTERS"],
        actions: &[DemoAction {
            date: date!(2026 - 03 - 03),
            agency: "HSI",
            description: (
                "Executed arrest warrants against a smuggling network, with leads shared by Mexico.",
                "Se cumplimentaron órdenes de aprehensión contra una red de tráfico de personas, con pistas compartidas por México.",
            ),
            outputs: &[(3.0, "networks", "smuggling networks dismantled")],
            evidence: &["HSI-DEMO-2026-0303"],
            completes: false,
        }],
    },
    DemoCommitment {
        area: "public-health",
        title: CAMPAIGN_TITLE,
        description: CAMPAIGN_DESCRIPTION,
        joint: true,
        agency: "CDC",
        start: date!(2026 - 02 - 01),
        due: date!(2027 - 02 - 28),
        indicators: &[],
        actions: &[],
    },
    DemoCommitment {
        area: "public-health",
        title: (
            "Expand naloxone distribution in border communities",
            "Ampliar la distribución de naloxona en las comunidades fronterizas",
        ),
        description: (
            "Fund naloxone distribution and training through community health centers in border counties.",
            "Financiar la distribución de naloxona y la capacitación para su uso a través de centros comunitarios de salud en los condados fronterizos.",
        ),
        joint: false,
        agency: "SAMHSA",
        start: date!(2027 - 01 - 15),
        due: date!(2027 - 12 - 31),
        indicators: &[],
        actions: &[],
    },
];

/// The Mexican node's commitments: its own, and the joint ones it records with the actions its
/// own agencies took on them.
const MX_COMMITMENTS: &[DemoCommitment] = &[
    DemoCommitment {
        area: "counter-cartels",
        title: TRANSFERS_TITLE,
        description: TRANSFERS_DESCRIPTION,
        joint: true,
        agency: "FGR",
        start: date!(2025 - 09 - 15),
        due: date!(2026 - 12 - 31),
        indicators: &["PERSONS-TRANSFERRED"],
        actions: &[DemoAction {
            date: date!(2025 - 11 - 19),
            agency: "FGR",
            description: (
                "Transferred four persons wanted in the United States, under the National Security Law.",
                "Se trasladó a cuatro personas requeridas en Estados Unidos, conforme a la Ley de Seguridad Nacional.",
            ),
            outputs: &[(4.0, "persons", "persons transferred")],
            evidence: &["FGR-DEMO-2025-0311"],
            completes: false,
        }],
    },
    DemoCommitment {
        area: "counter-cartels",
        title: (
            "Dismantle clandestine synthetic drug laboratories",
            "Desmantelar laboratorios clandestinos de drogas sintéticas",
        ),
        description: (
            "Locate and dismantle, in Mexican territory, the laboratories that produce fentanyl and methamphetamine, and dispose of their precursors safely.",
            "Localizar y desmantelar, en territorio mexicano, los laboratorios que producen fentanilo y metanfetamina, y disponer de sus precursores de forma segura.",
        ),
        joint: false,
        agency: "SEDENA",
        start: date!(2025 - 09 - 15),
        due: date!(2026 - 12 - 31),
        indicators: &["CRIME-MX"],
        actions: &[DemoAction {
            date: date!(2026 - 01 - 28),
            agency: "SEDENA",
            description: (
                "Dismantled laboratories in the mountains of Sinaloa and secured their precursors.",
                "Se desmantelaron laboratorios en la sierra de Sinaloa y se aseguraron sus precursores.",
            ),
            outputs: &[
                (17.0, "laboratories", "laboratories dismantled"),
                (9_400.0, "kg", "precursor chemicals secured"),
            ],
            evidence: &["SEDENA-DEMO-2026-0128"],
            completes: false,
        }],
    },
    DemoCommitment {
        area: "border-security",
        title: TUNNEL_NOTICE_TITLE,
        description: TUNNEL_NOTICE_DESCRIPTION,
        joint: true,
        agency: "Guardia Nacional",
        start: date!(2025 - 11 - 01),
        due: date!(2027 - 06 - 30),
        indicators: &[],
        actions: &[DemoAction {
            date: date!(2026 - 01 - 24),
            agency: "Guardia Nacional",
            description: (
                "Closed the Mexican ends of the two tunnels notified by the United States near Tijuana.",
                "Se clausuraron los extremos mexicanos de los dos túneles notificados por Estados Unidos cerca de Tijuana.",
            ),
            outputs: &[(2.0, "tunnels", "tunnel ends closed")],
            evidence: &["GN-DEMO-TIJ-2026-0004"],
            completes: false,
        }],
    },
    DemoCommitment {
        area: "illicit-finance",
        title: (
            "Freeze the accounts of persons and companies linked to designated cartels",
            "Bloquear las cuentas de personas y empresas vinculadas a los cárteles designados",
        ),
        description: (
            "Add to the list of blocked persons, within Mexican law, the persons and front companies identified in the cartels' financial networks.",
            "Incluir en la lista de personas bloqueadas, conforme a la ley mexicana, a las personas y empresas fachada identificadas en las redes financieras de los cárteles.",
        ),
        joint: false,
        agency: "UIF",
        start: date!(2025 - 10 - 01),
        due: date!(2026 - 09 - 30),
        indicators: &[],
        actions: &[DemoAction {
            date: date!(2026 - 02 - 16),
            agency: "UIF",
            description: (
                "Blocked the accounts of front companies of a cartel's money-laundering network.",
                "Se bloquearon las cuentas de empresas fachada de una red de lavado de dinero de un cártel.",
            ),
            outputs: &[(212.0, "accounts", "accounts blocked")],
            evidence: &["UIF-DEMO-2026-0216"],
            completes: false,
        }],
    },
    DemoCommitment {
        area: "fuel-theft",
        title: (
            "Check every fuel import at customs against its declaration",
            "Verificar en la aduana cada importación de combustible contra su declaración",
        ),
        description: (
            "Sample and weigh fuel imports at land and sea customs, so that fuel declared as other goods pays its duties or is seized.",
            "Muestrear y pesar las importaciones de combustible en las aduanas terrestres y marítimas, para que el combustible declarado como otra mercancía pague sus contribuciones o sea asegurado.",
        ),
        joint: false,
        agency: "ANAM",
        start: date!(2025 - 09 - 15),
        due: date!(2026 - 12 - 15),
        indicators: &[],
        actions: &[DemoAction {
            date: date!(2026 - 03 - 02),
            agency: "ANAM",
            description: (
                "Seized mis-declared fuel at the customs of Ciudad Juárez and Nuevo Laredo.",
                "Se aseguró combustible mal declarado en las aduanas de Ciudad Juárez y Nuevo Laredo.",
            ),
            outputs: &[
                (1_200_000.0, "L", "fuel seized"),
                (31.0, "tankers", "tankers detained"),
            ],
            evidence: &["ANAM-DEMO-2026-0302"],
            completes: false,
        }],
    },
    DemoCommitment {
        area: "drugs-and-arms",
        title: (
            "Inspect northbound and southbound cargo for firearms at the northern customs",
            "Revisar la carga en ambos sentidos en busca de armas de fuego en las aduanas del norte",
        ),
        description: (
            "Use non-intrusive inspection at the northern customs to stop firearms entering Mexico and drugs leaving it.",
            "Usar inspección no intrusiva en las aduanas del norte para detener las armas de fuego que entran a México y las drogas que salen.",
        ),
        joint: false,
        agency: "ANAM",
        start: date!(2025 - 10 - 01),
        due: date!(2026 - 10 - 31),
        indicators: &["FENTANYL-SEIZURES"],
        actions: &[DemoAction {
            date: date!(2026 - 02 - 05),
            agency: "ANAM",
            description: (
                "Installed gamma-ray scanners at the customs of Nogales and Sonoyta.",
                "Se instalaron escáneres de rayos gamma en las aduanas de Nogales y Sonoyta.",
            ),
            outputs: &[
                (4.0, "scanners", "scanners installed"),
                (96.0, "firearms", "firearms seized"),
            ],
            evidence: &["ANAM-DEMO-2026-0205"],
            completes: false,
        }],
    },
    DemoCommitment {
        area: "migration",
        title: SMUGGLING_TITLE,
        description: SMUGGLING_DESCRIPTION,
        joint: true,
        agency: "FGR",
        start: date!(2025 - 09 - 15),
        due: date!(2026 - 08 - 31),
        indicators: &["BORDER-ENCOUNTERS"],
        actions: &[DemoAction {
            date: date!(2026 - 02 - 20),
            agency: "FGR",
            description: (
                "Shared leads with the United States on a network moving people through Altar, Sonora.",
                "Se compartieron con Estados Unidos pistas sobre una red que traslada personas por Altar, Sonora.",
            ),
            outputs: &[(1.0, "networks", "network investigated jointly")],
            evidence: &["FGR-DEMO-2026-0220"],
            completes: false,
        }],
    },
    DemoCommitment {
        area: "public-health",
        title: CAMPAIGN_TITLE,
        description: CAMPAIGN_DESCRIPTION,
        joint: true,
        agency: "Secretaría de Salud",
        start: date!(2026 - 02 - 01),
        due: date!(2027 - 02 - 28),
        indicators: &[],
        actions: &[],
    },
];

/// A meeting of the implementation group, with its decisions and follow-ups.
struct DemoMeeting {
    date: Date,
    place: &'static str,
    attendees: &'static [&'static str],
    decisions: &'static [(&'static str, &'static str)],
    follow_ups: &'static [DemoFollowUp],
}

struct DemoFollowUp {
    title: (&'static str, &'static str),
    owner: &'static str,
    due: Date,
    completed_on: Option<Date>,
}

const MEETINGS: &[DemoMeeting] = &[
    DemoMeeting {
        date: date!(2025 - 10 - 14),
        place: "Department of State, Washington, D.C.",
        attendees: &[
            "Avery Collins (fictional), Department of State",
            "Jordan Whitfield (fictional), Department of Homeland Security",
            "Mariana Ortega Salas (fictional), Secretaría de Relaciones Exteriores",
            "Tomás Villaseñor (fictional), Secretaría de Seguridad y Protección Ciudadana",
        ],
        decisions: &[
            (
                "Adopt the program's indicators with their baselines; each party reports its own measurements every quarter.",
                "Adoptar los indicadores del programa con sus líneas base; cada parte reporta sus propias mediciones cada trimestre.",
            ),
            (
                "Each party names one liaison office for referrals between the two nodes.",
                "Cada parte designa una oficina de enlace para las remisiones entre los dos nodos.",
            ),
        ],
        follow_ups: &[
            DemoFollowUp {
                title: (
                    "Name the U.S. liaison office for referrals",
                    "Designar la oficina de enlace de Estados Unidos para remisiones",
                ),
                owner: "US",
                due: date!(2025 - 11 - 15),
                completed_on: Some(date!(2025 - 11 - 04)),
            },
            DemoFollowUp {
                title: (
                    "Name the Mexican liaison office for referrals",
                    "Designar la oficina de enlace de México para remisiones",
                ),
                owner: "MX",
                due: date!(2025 - 11 - 15),
                completed_on: Some(date!(2025 - 11 - 12)),
            },
        ],
    },
    DemoMeeting {
        date: date!(2026 - 02 - 10),
        place: "Secretaría de Relaciones Exteriores, Ciudad de México",
        attendees: &[
            "Avery Collins (fictional), Department of State",
            "Dana Okafor (fictional), Department of Justice",
            "Mariana Ortega Salas (fictional), Secretaría de Relaciones Exteriores",
            "Lucía Barragán (fictional), Fiscalía General de la República",
        ],
        decisions: &[
            (
                "Add firearm trace turnaround to the indicators reported at the next meeting.",
                "Agregar el tiempo de respuesta del rastreo de armas a los indicadores que se reportarán en la próxima reunión.",
            ),
            (
                "Prepare the first public progress report, with aggregate figures only.",
                "Preparar el primer informe público de avances, solo con cifras agregadas.",
            ),
        ],
        follow_ups: &[
            DemoFollowUp {
                title: (
                    "Propose a baseline for firearm trace turnaround",
                    "Proponer una línea base para el tiempo de respuesta del rastreo de armas",
                ),
                owner: "US",
                due: date!(2026 - 04 - 30),
                completed_on: None,
            },
            DemoFollowUp {
                title: (
                    "Draft the public progress report in English and Spanish",
                    "Redactar el informe público de avances en inglés y en español",
                ),
                owner: "MX",
                due: date!(2026 - 12 - 15),
                completed_on: None,
            },
        ],
    },
];

fn text(pair: (&str, &str)) -> LocalizedText {
    LocalizedText::from_pair(pair.0, pair.1)
}

fn party(code: &str) -> Result<PartyCode> {
    PartyCode::parse(code).map_err(|e| anyhow!("demo data: {e}"))
}

/// What the demo loaded, for the summary it prints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Loaded {
    pub n_commitments: usize,
    pub n_actions: usize,
    pub n_meetings: usize,
}

/// The commitments of a node of `party`, and the other party of its joint ones.
fn commitments_of(party: PartyCode) -> Result<(&'static [DemoCommitment], PartyCode)> {
    match party {
        PartyCode::US => Ok((COMMITMENTS, PartyCode::MX)),
        PartyCode::MX => Ok((MX_COMMITMENTS, PartyCode::US)),
        other => Err(anyhow!("the demo has no data for party {other}")),
    }
}

/// Loads the demo data of a node of party `us` (US or MX): its own records, and the joint
/// commitments with the other party.
pub async fn load(store: &Arc<dyn Store>, us: PartyCode, program: &Program) -> Result<Loaded> {
    let (commitments, them) = commitments_of(us)?;
    let mut loaded = Loaded::default();
    for c in commitments {
        let ctx = WriteCtx {
            actor: DEMO_ACTOR.to_owned(),
            ip: None,
            now: now(),
        };
        let area = program.parse_area("/area", c.area)?;
        let mut indicators = Vec::with_capacity(c.indicators.len());
        for code in c.indicators {
            let indicator = store
                .indicator_by_code(code)
                .await?
                .ok_or_else(|| anyhow!("demo data: indicator {code} is not loaded"))?;
            indicators.push(indicator.meta.id);
        }
        let owners = if c.joint {
            Owners::new("/owners", &[us, them])?
        } else {
            Owners::One(us)
        };
        let body = CommitmentDraft::new(
            area,
            text(c.title),
            text(c.description),
            owners,
            c.agency,
            c.start,
            c.due,
            indicators,
        )?;
        let commitment = store
            .create_commitment(&ctx, &RecordMeta::new(Uuid::now_v7(), us, ctx.now), &body)
            .await
            .with_context(|| format!("demo commitment {:?}", c.title.0))?;
        loaded.n_commitments += 1;
        for a in c.actions {
            let outputs = a
                .outputs
                .iter()
                .enumerate()
                .map(|(i, (value, unit, what))| {
                    Output::new(&format!("/outputs/{i}"), *value, unit, what)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let body = ActionDraft::new(
                commitment.meta.id,
                a.date,
                a.agency,
                text(a.description),
                outputs,
                a.evidence.iter().map(|e| (*e).to_owned()).collect(),
                a.completes,
            )?;
            let at = now();
            store
                .create_action(
                    &WriteCtx {
                        now: at,
                        ..ctx.clone()
                    },
                    &RecordMeta::new(Uuid::now_v7(), us, at),
                    &body,
                )
                .await
                .with_context(|| format!("demo action {:?}", a.description.0))?;
            loaded.n_actions += 1;
        }
    }
    for m in MEETINGS {
        let at = now();
        let ctx = WriteCtx {
            actor: DEMO_ACTOR.to_owned(),
            ip: None,
            now: at,
        };
        let follow_ups = m
            .follow_ups
            .iter()
            .map(|f| {
                Ok(FollowUp {
                    id: Uuid::now_v7(),
                    title: text(f.title),
                    owner: party(f.owner)?,
                    due: f.due,
                    completed_on: f.completed_on,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let body = MeetingDraft::new(
            m.date,
            m.place,
            m.attendees.iter().map(|a| (*a).to_owned()).collect(),
            m.decisions
                .iter()
                .map(|d| MeetingDecision { text: text(*d) })
                .collect(),
            follow_ups,
        )?;
        store
            .create_meeting(&ctx, &RecordMeta::new(Uuid::now_v7(), us, at), &body)
            .await
            .with_context(|| format!("demo meeting of {}", m.date))?;
        loaded.n_meetings += 1;
    }
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_covers_every_area_and_has_joint_commitments() {
        let program = crate::data::parse_program(crate::data::PROGRAM_TOML).unwrap();
        for party in [PartyCode::US, PartyCode::MX] {
            let (commitments, _) = commitments_of(party).unwrap();
            for area in program.areas() {
                assert!(
                    commitments.iter().any(|c| c.area == area.code.as_str()),
                    "no demo commitment of {party} in {}",
                    area.code
                );
            }
            assert!(commitments.iter().filter(|c| c.joint).count() >= 4);
            for c in commitments {
                assert!(c.start <= c.due, "{}", c.title.0);
                for a in c.actions {
                    assert!(a.date >= c.start, "{}", a.description.0);
                }
            }
        }
        assert_eq!(COMMITMENTS.len(), 12);
        assert_eq!(MX_COMMITMENTS.len(), 8);
        // A joint commitment is the same agreed text on both nodes.
        for c in MX_COMMITMENTS.iter().filter(|c| c.joint) {
            assert!(
                COMMITMENTS
                    .iter()
                    .any(|u| u.joint && u.title == c.title && u.description == c.description),
                "{}",
                c.title.0
            );
        }
        assert!(commitments_of(PartyCode::parse("CA").unwrap()).is_err());
        assert_eq!(MEETINGS.len(), 2);
    }
}
