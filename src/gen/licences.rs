//! What the generator knows about each kind of single licence (单项审批证件): how long it is valid
//! for, whether Beijing grants it on commitment (告知承诺), and what its certificate number looks
//! like.
//!
//! Owns the licence knowledge the catalogue does not carry. It recognises a catalogue licence type
//! by the words of its name ([`LicenceKind::from_name`]), so it keeps working whatever stable codes
//! (`L07`) the catalogue assigns. It never decides which licences a permit holds (that is the
//! catalogue's rules, applied in [`super`]) and never draws random numbers.
//!
//! Judgements, written down:
//! - **validity**: `Some(years)` where the licence carries an end date, `None` (长期) for filings
//!   (备案凭证、备案回执、备案证明、备案卡), decisions (决定书、意见书) and the licences issued without
//!   an end date (特种行业许可证、动物诊疗许可证、人力资源服务许可证). The years are the usual terms
//!   (食品经营 5, 公共场所卫生 4, 网络文化 3, 劳务派遣 3, 道路运输经营 4 …) and plausible where the
//!   term varies by case; none is a legal reference;
//! - **commitment**: the kinds Beijing lists for 告知承诺 in ordinary cases (food, hygiene,
//!   publications, sewage, fire safety, entertainment, human resources, road freight, tobacco);
//!   medical, drug, radiation, school and public-security licences are never granted that way
//!   (重点任务(七) excludes what directly concerns public safety and people's health);
//! - **certificate numbers** follow the shape of published numbers where one is known
//!   (`JY` + 14 digits for 食品经营许可证, `京卫公证字[2024]第110111-000123号` for public-place
//!   hygiene, `新出发京零字第房…号` for publication retail, `京交运管许可货字110111…号` for road
//!   freight) and a plausible `京{district}…字〔{year}〕第{n}号` pattern elsewhere. Check digits whose
//!   algorithm is not published are a stand-in mod-10 digit. Serials come from one counter per
//!   licence type and district and are never truncated: a serial that outgrows its usual width is
//!   written wider, so numbers stay unique even at ten million permits.

use std::fmt::Write;

use crate::catalog::LicenceTypeId;
use crate::gen::places::District;

/// The licence types of 附件2, recognised by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LicenceKind {
    Food,
    SmallScaleFood,
    Drug,
    MedicalDeviceFiling,
    MedicalDevice,
    MedicalDeviceOnlineFiling,
    Radiation,
    Tobacco,
    Sewage,
    HighRiskSports,
    Hygiene,
    Publication,
    PublicationRentalFiling,
    PublicationBranchFiling,
    MedicalInstitution,
    InternetDrugInformation,
    AnimalClinic,
    SpecialTrade,
    FireSafety,
    FilmScreening,
    Entertainment,
    InternetCulture,
    HumanResources,
    LabourDispatch,
    PerformanceVenueFiling,
    Halal,
    SmallGroceryFiling,
    WaterAbstraction,
    ClinicFiling,
    TransportFiling,
    TransportDecision,
    ArtDealerFiling,
    PrivateSchool,
    RoadTransportBusiness,
    RoadTransportVehicle,
    /// A catalogue type this table does not know: a generic number, five years' validity.
    Other,
}

impl LicenceKind {
    /// Recognises a catalogue licence name (with or without 《》). The order of the tests matters:
    /// the more specific phrase first (小规模 before 食品经营, 第二类…备案 before 医疗器械经营许可证,
    /// 道路运输经营 before 道路运输证).
    pub fn from_name(name: &str) -> LicenceKind {
        const RULES: [(&str, LicenceKind); 35] = [
            ("小规模食品", LicenceKind::SmallScaleFood),
            ("食品经营许可", LicenceKind::Food),
            ("互联网药品信息", LicenceKind::InternetDrugInformation),
            ("药品经营许可", LicenceKind::Drug),
            ("医疗器械网络销售", LicenceKind::MedicalDeviceOnlineFiling),
            ("第二类医疗器械", LicenceKind::MedicalDeviceFiling),
            ("医疗器械经营许可", LicenceKind::MedicalDevice),
            ("辐射安全", LicenceKind::Radiation),
            ("烟草", LicenceKind::Tobacco),
            ("污水", LicenceKind::Sewage),
            ("高危险性体育", LicenceKind::HighRiskSports),
            ("出版物出租", LicenceKind::PublicationRentalFiling),
            ("出版物发行分支", LicenceKind::PublicationBranchFiling),
            ("出版物经营", LicenceKind::Publication),
            ("医疗机构执业", LicenceKind::MedicalInstitution),
            ("动物诊疗", LicenceKind::AnimalClinic),
            ("特种行业", LicenceKind::SpecialTrade),
            ("消防", LicenceKind::FireSafety),
            ("电影放映", LicenceKind::FilmScreening),
            ("娱乐经营", LicenceKind::Entertainment),
            ("网络文化", LicenceKind::InternetCulture),
            ("人力资源服务", LicenceKind::HumanResources),
            ("劳务派遣", LicenceKind::LabourDispatch),
            ("演出场所", LicenceKind::PerformanceVenueFiling),
            ("清真", LicenceKind::Halal),
            ("小食杂店", LicenceKind::SmallGroceryFiling),
            ("取水", LicenceKind::WaterAbstraction),
            ("诊所备案", LicenceKind::ClinicFiling),
            ("准予备案", LicenceKind::TransportFiling),
            ("行政许可决定", LicenceKind::TransportDecision),
            ("艺术品", LicenceKind::ArtDealerFiling),
            ("民办学校", LicenceKind::PrivateSchool),
            ("道路运输经营", LicenceKind::RoadTransportBusiness),
            ("道路运输证", LicenceKind::RoadTransportVehicle),
            ("卫生许可", LicenceKind::Hygiene),
        ];
        RULES
            .iter()
            .find(|(phrase, _)| name.contains(phrase))
            .map_or(LicenceKind::Other, |&(_, kind)| kind)
    }

    /// Years from grant to the last day of validity, or `None` for a licence without end date.
    pub fn validity_years(self) -> Option<u8> {
        use LicenceKind::*;
        match self {
            Food
            | Drug
            | MedicalDevice
            | Radiation
            | Tobacco
            | Sewage
            | HighRiskSports
            | Publication
            | MedicalInstitution
            | InternetDrugInformation
            | WaterAbstraction
            | PrivateSchool
            | Other => Some(5),
            Hygiene | RoadTransportBusiness | RoadTransportVehicle => Some(4),
            SmallScaleFood | InternetCulture | LabourDispatch | SmallGroceryFiling => Some(3),
            FilmScreening | Entertainment => Some(2),
            MedicalDeviceFiling
            | MedicalDeviceOnlineFiling
            | PublicationRentalFiling
            | PublicationBranchFiling
            | AnimalClinic
            | SpecialTrade
            | FireSafety
            | HumanResources
            | PerformanceVenueFiling
            | Halal
            | ClinicFiling
            | TransportFiling
            | TransportDecision
            | ArtDealerFiling => None,
        }
    }

    /// Whether Beijing may grant this licence on the applicant's written commitment (告知承诺).
    pub fn commitment_eligible(self) -> bool {
        use LicenceKind::*;
        matches!(
            self,
            Food | SmallScaleFood
                | Hygiene
                | Publication
                | Sewage
                | FireSafety
                | Entertainment
                | InternetCulture
                | HumanResources
                | LabourDispatch
                | RoadTransportBusiness
                | Tobacco
        )
    }

    /// Whether a department can withdraw (吊销) it as a sanction; filings and decisions are
    /// cancelled or revoked instead.
    pub fn can_be_withdrawn(self) -> bool {
        self.validity_years().is_some()
            || matches!(self, LicenceKind::SpecialTrade | LicenceKind::AnimalClinic)
    }

    /// The reason text a department gives when it withdraws this kind of licence.
    pub fn withdrawal_reason(self) -> &'static str {
        match self {
            LicenceKind::Food | LicenceKind::SmallScaleFood => {
                "严重违反食品安全法律法规，依法吊销许可证"
            }
            LicenceKind::Drug | LicenceKind::MedicalDevice => "严重违反药品监督管理规定，依法吊销",
            LicenceKind::Hygiene => "卫生条件不符合要求且拒不整改，依法吊销",
            LicenceKind::Entertainment | LicenceKind::InternetCulture => {
                "违规接纳未成年人，情节严重，依法吊销"
            }
            _ => "违法经营情节严重，依法吊销",
        }
    }
}

/// Which variant of a number a permit's licence needs: the food-business subject digit, whether a
/// pharmacy is a chain store, whether a road-transport business carries goods or passengers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberVariant {
    /// 食品经营许可证 subject: 1 食品销售, 2 餐饮服务, 3 单位食堂.
    pub food_subject: u8,
    /// A chain-store branch (连锁门店): pharmacies get `C…` rather than `D…` (单体).
    pub chain_store: bool,
    /// Road passenger transport (客运) rather than freight (货运).
    pub passenger: bool,
}

/// Appends the certificate number of a licence of `kind` (catalogue id `id`) granted in `year`
/// by `district`'s department, with serial `serial` (1-based, unique per type and district).
pub fn write_certificate_number(
    out: &mut String,
    kind: LicenceKind,
    id: LicenceTypeId,
    district: &District,
    year: i32,
    serial: u32,
    variant: NumberVariant,
) {
    let d = district.abbreviation;
    let division = district.code;
    let yy = year.rem_euclid(100);
    let _ = match kind {
        LicenceKind::Food => {
            let start = out.len();
            let _ = write!(out, "JY{}{division}{serial:06}", variant.food_subject);
            let check = mod10_check(&out.as_bytes()[start + 2..]);
            write!(out, "{check}")
        }
        LicenceKind::SmallScaleFood => write!(out, "京{d}食小证字〔{year}〕第{serial:05}号"),
        LicenceKind::Drug => {
            let shape = if variant.chain_store { 'C' } else { 'D' };
            write!(out, "京{shape}A{:03}{serial:04}", division % 1000)
        }
        LicenceKind::MedicalDeviceFiling => write!(out, "京{d}药监械经营备{year}{serial:04}号"),
        LicenceKind::MedicalDevice => write!(out, "京{d}药监械经营许{year}{serial:04}号"),
        LicenceKind::MedicalDeviceOnlineFiling => write!(out, "京{d}网械备{year}{serial:04}号"),
        LicenceKind::Radiation => write!(out, "京环辐证[F{serial:04}]"),
        LicenceKind::Tobacco => write!(out, "{division}{serial:06}"),
        LicenceKind::Sewage => write!(out, "京{d}排许字〔{year}〕第{serial:04}号"),
        LicenceKind::HighRiskSports => write!(out, "京{d}体高危许字〔{year}〕{serial:03}号"),
        LicenceKind::Hygiene => write!(out, "京卫公证字[{year}]第{division}-{serial:06}号"),
        LicenceKind::Publication => write!(out, "新出发京零字第{d}{yy:02}{serial:04}号"),
        LicenceKind::PublicationRentalFiling => write!(out, "京{d}出租备字〔{year}〕{serial:03}号"),
        LicenceKind::PublicationBranchFiling => write!(out, "京{d}发分备字〔{year}〕{serial:03}号"),
        LicenceKind::MedicalInstitution => write!(out, "PDY{serial:05}{division}D{yy:02}12"),
        LicenceKind::InternetDrugInformation => write!(out, "（京）-非经营性-{year}-{serial:04}"),
        LicenceKind::AnimalClinic => write!(out, "（京{d}）动诊证字第{year}{serial:04}号"),
        LicenceKind::SpecialTrade => write!(out, "京公{d}特旅字第{serial:05}号"),
        LicenceKind::FireSafety => write!(out, "京{d}消安检字〔{year}〕第{serial:04}号"),
        LicenceKind::FilmScreening => write!(out, "京{d}电放字〔{year}〕第{serial:03}号"),
        LicenceKind::Entertainment => write!(out, "{division}{yy:02}{serial:04}"),
        LicenceKind::InternetCulture => {
            write!(
                out,
                "京网文〔{year}〕{serial:04}-{:03}号",
                serial.wrapping_mul(37) % 1000
            )
        }
        LicenceKind::HumanResources => write!(out, "京{d}人服证字〔{year}〕第{serial:04}号"),
        LicenceKind::LabourDispatch => write!(out, "{division}{year}{serial:04}"),
        LicenceKind::PerformanceVenueFiling => write!(out, "京{d}演备字〔{year}〕第{serial:03}号"),
        LicenceKind::Halal => write!(out, "京{d}清真登字〔{year}〕第{serial:03}号"),
        LicenceKind::SmallGroceryFiling => write!(out, "京{d}食杂备{year}{serial:05}"),
        LicenceKind::WaterAbstraction => write!(out, "取水（京{d}）字〔{year}〕第{serial:04}号"),
        LicenceKind::ClinicFiling => write!(out, "京{d}卫诊备字〔{year}〕第{serial:04}号"),
        LicenceKind::TransportFiling => write!(out, "京{d}交备〔{year}〕{serial:04}号"),
        LicenceKind::TransportDecision => write!(out, "京{d}交许〔{year}〕{serial:04}号"),
        LicenceKind::ArtDealerFiling => write!(out, "京{d}艺备字〔{year}〕第{serial:03}号"),
        LicenceKind::PrivateSchool => write!(out, "教民{division}7{serial:07}号"),
        LicenceKind::RoadTransportBusiness => {
            let goods = if variant.passenger { '客' } else { '货' };
            write!(out, "京交运管许可{goods}字{division}{serial:06}号")
        }
        LicenceKind::RoadTransportVehicle => write!(out, "京交运管{d}字{serial:06}号"),
        LicenceKind::Other => write!(out, "L{:02}-{division}-{year}-{serial:05}", id.0),
    };
}

/// A stand-in check digit (weights 3,1 alternating, mod 10, like EAN) for number formats whose
/// real check algorithm is not published.
fn mod10_check(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(i, &c)| u32::from(c - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::places::DISTRICTS;

    #[test]
    fn every_catalogue_name_of_the_source_is_recognised() {
        // Each licence name of 附件2 maps to its own kind, none to Other.
        let names = [
            (
                "《第二类医疗器械经营备案凭证》",
                LicenceKind::MedicalDeviceFiling,
            ),
            ("医疗器械经营许可证", LicenceKind::MedicalDevice),
            (
                "医疗器械网络销售备案公示",
                LicenceKind::MedicalDeviceOnlineFiling,
            ),
            ("食品经营许可证", LicenceKind::Food),
            (
                "北京市小规模食品生产经营许可证",
                LicenceKind::SmallScaleFood,
            ),
            ("药品经营许可证", LicenceKind::Drug),
            (
                "互联网药品信息服务资格证书",
                LicenceKind::InternetDrugInformation,
            ),
            (
                "公众聚集场所投入使用、营业前消防安全检查意见书",
                LicenceKind::FireSafety,
            ),
            ("卫生许可证", LicenceKind::Hygiene),
            ("出版物经营许可证", LicenceKind::Publication),
            (
                "出版物出租企业备案回执",
                LicenceKind::PublicationRentalFiling,
            ),
            (
                "北京市出版物发行分支机构备案证明",
                LicenceKind::PublicationBranchFiling,
            ),
            (
                "营业性演出场所经营单位备案证明",
                LicenceKind::PerformanceVenueFiling,
            ),
            (
                "清真食品生产、加工、经营场所登记许可决定书",
                LicenceKind::Halal,
            ),
            ("北京小食杂店备案卡", LicenceKind::SmallGroceryFiling),
            ("北京交通运输准予备案通知书", LicenceKind::TransportFiling),
            ("北京交通运输行政许可决定书", LicenceKind::TransportDecision),
            ("道路运输经营许可证", LicenceKind::RoadTransportBusiness),
            ("道路运输证", LicenceKind::RoadTransportVehicle),
            ("城镇污水排入排水管网许可证", LicenceKind::Sewage),
            ("高危险性体育项目经营许可证", LicenceKind::HighRiskSports),
            ("特种行业许可证", LicenceKind::SpecialTrade),
            ("诊所备案凭证", LicenceKind::ClinicFiling),
            ("艺术品经营单位备案证明", LicenceKind::ArtDealerFiling),
            ("民办学校办学许可证", LicenceKind::PrivateSchool),
            ("取水许可证", LicenceKind::WaterAbstraction),
        ];
        for (name, kind) in names {
            assert_eq!(LicenceKind::from_name(name), kind, "{name}");
        }
    }

    #[test]
    fn certificate_numbers_have_their_published_shapes() {
        // A few formats written out in full, and the serial widening instead of truncating.
        let fangshan = &DISTRICTS[0];
        let variant = NumberVariant {
            food_subject: 2,
            chain_store: false,
            passenger: false,
        };
        let number = |kind, serial| {
            let mut out = String::new();
            write_certificate_number(
                &mut out,
                kind,
                LicenceTypeId(1),
                fangshan,
                2024,
                serial,
                variant,
            );
            out
        };
        let food = number(LicenceKind::Food, 123);
        assert!(food.starts_with("JY2110111000123"), "{food}");
        assert_eq!(food.len(), 16);
        assert_eq!(
            number(LicenceKind::Hygiene, 42),
            "京卫公证字[2024]第110111-000042号"
        );
        assert_eq!(
            number(LicenceKind::Publication, 7),
            "新出发京零字第房240007号"
        );
        assert_eq!(number(LicenceKind::Tobacco, 1_234_567), "1101111234567");
    }
}
