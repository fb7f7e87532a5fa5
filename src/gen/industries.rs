//! How common each of the 40 industries is, what its businesses are called, and how often it
//! takes each as-needed (按需办理) licence.
//!
//! Owns the per-industry judgements of the generator; the catalogue owns what an industry *must*
//! hold. Keyed by category code (01–40) and by [`LicenceKind`], never by catalogue licence ids.
//!
//! Judgements, written down:
//! - **mix**: restaurants, convenience stores, hair and beauty salons, trading companies and
//!   drink shops are the bulk of small-business permits in a Beijing suburb; internet hospitals,
//!   cinemas, theatres and road passenger transport are a handful each. Restaurants stay under
//!   16 % so that even ten million permits fit their 16 districts × 99,999 sequences;
//! - **as-needed licences**: a restaurant often discharges kitchen water into the sewer
//!   (城镇污水排入排水管网许可证, 55 %) and sometimes sells cigarettes (烟草, 15 %); a convenience
//!   store nearly always sells food and usually tobacco; a gym seldom runs a high-risk sport
//!   (swimming, climbing). Unlisted pairs take [`DEFAULT_IF_NEEDED`];
//! - **small-scale food** (北京市小规模食品生产经营许可证) is the likelier alternative for tea
//!   houses, drink shops and cafés (45 %), less so for restaurants (20 %).

use crate::gen::licences::LicenceKind;

/// Chance that a permit takes an as-needed licence this table does not mention.
pub const DEFAULT_IF_NEEDED: f64 = 0.15;

/// How businesses of one industry are named and how common they are.
#[derive(Debug, Clone, Copy)]
pub struct IndustryStyle {
    pub category: u8,
    /// Relative share of permits (any unit; only ratios matter).
    pub weight: u32,
    /// Endings of company names (`餐饮管理有限公司`), appended to `北京{字号}`.
    pub company_nouns: &'static [&'static str],
    /// Endings of individual businesses' names (`家常菜馆`); empty when the industry is run only
    /// by companies.
    pub shop_nouns: &'static [&'static str],
    /// Share of individual businesses (个体工商户, credit code 92…).
    pub individual_share: f64,
    /// Share of company permits that are chain-store branches (`…有限公司良乡店`).
    pub chain_share: f64,
    /// Share registered by the civil-affairs bureau as private non-enterprise units
    /// (民办非企业单位, credit code 52…): kindergartens and care homes.
    pub non_enterprise_share: f64,
    /// Share of farmers' cooperatives (农民专业合作社, credit code 93…): rural homestays and
    /// vegetable shops.
    pub cooperative_share: f64,
}

const fn style(
    category: u8,
    weight: u32,
    company_nouns: &'static [&'static str],
    shop_nouns: &'static [&'static str],
    individual_share: f64,
    chain_share: f64,
) -> IndustryStyle {
    IndustryStyle {
        category,
        weight,
        company_nouns,
        shop_nouns,
        individual_share,
        chain_share,
        non_enterprise_share: 0.0,
        cooperative_share: 0.0,
    }
}

/// One style per category, in category order; weights in hundredths of a per cent (of 10,000).
pub const STYLES: [IndustryStyle; 40] = [
    style(
        1,
        200,
        &["医疗器械有限公司", "医疗科技有限公司", "医疗设备有限公司"],
        &["医疗器械经营部"],
        0.15,
        0.05,
    ),
    style(
        2,
        500,
        &["大药房有限公司", "医药有限公司", "大药房连锁有限公司"],
        &["药店"],
        0.1,
        0.45,
    ),
    style(
        3,
        1500,
        &[
            "餐饮管理有限公司",
            "餐饮有限公司",
            "餐饮服务有限公司",
            "美食有限公司",
            "饮食有限公司",
        ],
        &[
            "餐饮店",
            "餐馆",
            "饭馆",
            "家常菜馆",
            "面馆",
            "饺子馆",
            "快餐店",
            "小吃店",
            "烧烤店",
            "火锅店",
            "麻辣烫店",
            "包子铺",
            "烤鸭店",
            "酒家",
            "饭庄",
            "餐厅",
            "涮肉馆",
            "米线店",
            "炸酱面馆",
            "卤煮店",
        ],
        0.6,
        0.12,
    ),
    style(
        4,
        400,
        &[
            "健身有限公司",
            "健身服务有限公司",
            "体育文化有限公司",
            "运动健身有限公司",
        ],
        &["健身馆", "健身工作室"],
        0.25,
        0.2,
    ),
    style(
        5,
        1200,
        &[
            "商贸有限公司",
            "超市有限公司",
            "便利店有限公司",
            "商业连锁有限公司",
        ],
        &[
            "便利店",
            "超市",
            "便民超市",
            "商店",
            "日用品店",
            "副食店",
            "烟酒商店",
        ],
        0.6,
        0.3,
    ),
    style(
        6,
        100,
        &[
            "文化有限公司",
            "书店有限公司",
            "图书有限公司",
            "文化传媒有限公司",
        ],
        &["书店", "书屋", "文具书店"],
        0.4,
        0.1,
    ),
    style(
        7,
        2,
        &["互联网医院有限公司", "医院管理有限公司", "健康科技有限公司"],
        &[],
        0.0,
        0.0,
    ),
    IndustryStyle {
        non_enterprise_share: 0.45,
        ..style(
            8,
            50,
            &["养老服务有限公司", "健康养老有限公司", "老年公寓有限公司"],
            &[],
            0.0,
            0.1,
        )
    },
    style(
        9,
        200,
        &["眼镜有限公司", "视光科技有限公司", "眼镜连锁有限公司"],
        &["眼镜店", "眼镜行", "视光中心"],
        0.5,
        0.3,
    ),
    style(
        10,
        120,
        &["动物医院有限公司", "宠物医院有限公司", "宠物诊疗有限公司"],
        &["宠物诊所"],
        0.1,
        0.15,
    ),
    style(
        11,
        200,
        &[
            "酒店管理有限公司",
            "宾馆有限公司",
            "酒店有限公司",
            "商务酒店有限公司",
        ],
        &["宾馆", "旅馆", "招待所"],
        0.35,
        0.2,
    ),
    style(
        12,
        10,
        &["影城有限公司", "电影院管理有限公司", "影院管理有限公司"],
        &[],
        0.0,
        0.5,
    ),
    style(
        13,
        60,
        &["文化娱乐有限公司", "娱乐有限公司", "音乐餐吧有限公司"],
        &["KTV", "歌厅"],
        0.2,
        0.1,
    ),
    style(
        14,
        25,
        &["游乐有限公司", "文化娱乐有限公司", "动漫游乐有限公司"],
        &["电玩城", "游戏厅"],
        0.15,
        0.1,
    ),
    style(
        15,
        80,
        &["网络科技有限公司", "网咖有限公司", "电竞文化有限公司"],
        &["网吧", "网咖"],
        0.3,
        0.15,
    ),
    style(
        16,
        80,
        &[
            "人力资源有限公司",
            "人力资源服务有限公司",
            "劳务派遣有限公司",
            "企业管理咨询有限公司",
        ],
        &[],
        0.0,
        0.05,
    ),
    style(
        17,
        20,
        &["游泳健身有限公司", "体育发展有限公司", "游泳馆有限公司"],
        &["游泳馆"],
        0.1,
        0.05,
    ),
    style(
        18,
        150,
        &["茶文化有限公司", "茶业有限公司", "茶艺有限公司"],
        &["茶馆", "茶楼", "茶社", "茶庄"],
        0.6,
        0.05,
    ),
    IndustryStyle {
        cooperative_share: 0.1,
        ..style(
            19,
            250,
            &["民宿有限公司", "乡村旅游有限公司", "旅游文化有限公司"],
            &["民宿", "农家院", "山庄", "客栈"],
            0.55,
            0.02,
        )
    },
    style(
        20,
        25,
        &["游艺娱乐有限公司", "文化娱乐有限公司"],
        &["游艺厅"],
        0.15,
        0.05,
    ),
    style(
        21,
        60,
        &["智慧零售有限公司", "无人超市有限公司", "科技有限公司"],
        &["无人便利店", "自助超市"],
        0.2,
        0.4,
    ),
    style(
        22,
        5,
        &["剧场管理有限公司", "文化艺术有限公司", "演艺有限公司"],
        &[],
        0.0,
        0.0,
    ),
    IndustryStyle {
        cooperative_share: 0.05,
        ..style(
            23,
            300,
            &[
                "蔬菜连锁有限公司",
                "农产品有限公司",
                "生鲜超市有限公司",
                "果蔬有限公司",
            ],
            &["菜店", "蔬菜店", "生鲜店", "果蔬店"],
            0.5,
            0.35,
        )
    },
    style(
        24,
        80,
        &["中医诊所有限公司", "中医医院有限公司", "国医馆有限公司"],
        &["中医诊所"],
        0.2,
        0.1,
    ),
    style(
        25,
        250,
        &["咖啡有限公司", "餐饮管理有限公司", "咖啡文化有限公司"],
        &["咖啡馆", "咖啡店", "咖啡厅"],
        0.4,
        0.3,
    ),
    style(
        26,
        80,
        &["餐饮管理有限公司", "酒吧有限公司", "文化娱乐有限公司"],
        &["酒吧", "清吧", "小酒馆"],
        0.4,
        0.05,
    ),
    style(
        27,
        100,
        &["体育发展有限公司", "体育文化有限公司", "运动管理有限公司"],
        &["羽毛球馆", "篮球馆", "乒乓球馆", "台球厅"],
        0.3,
        0.05,
    ),
    style(
        28,
        150,
        &["清真餐饮有限公司", "清真餐饮管理有限公司"],
        &["清真餐厅", "清真饭馆", "牛肉面馆", "兰州拉面馆"],
        0.6,
        0.1,
    ),
    style(
        29,
        100,
        &[
            "体育文化发展有限公司",
            "体育培训有限公司",
            "教育科技有限公司",
        ],
        &[],
        0.0,
        0.1,
    ),
    style(
        30,
        150,
        &["洗衣服务有限公司", "干洗有限公司", "洗染有限公司"],
        &["干洗店", "洗衣店", "洗染店"],
        0.6,
        0.2,
    ),
    style(
        31,
        600,
        &["餐饮管理有限公司", "饮品有限公司", "茶饮有限公司"],
        &["奶茶店", "饮品店", "茶饮店", "果汁店", "冷饮店"],
        0.55,
        0.4,
    ),
    style(
        32,
        120,
        &["口腔诊所有限公司", "口腔医疗有限公司", "齿科诊所有限公司"],
        &["口腔诊所"],
        0.15,
        0.15,
    ),
    style(
        33,
        40,
        &["医疗美容门诊部有限公司", "医疗美容有限公司"],
        &[],
        0.0,
        0.1,
    ),
    style(
        34,
        300,
        &[
            "汽车维修有限公司",
            "汽车服务有限公司",
            "汽车修理有限公司",
            "汽车养护有限公司",
        ],
        &["汽车修理厂", "汽修店", "汽车快修店"],
        0.45,
        0.1,
    ),
    style(
        35,
        30,
        &["艺术品有限公司", "文化艺术有限公司", "书画院有限公司"],
        &["书画院", "艺术馆", "画廊"],
        0.3,
        0.0,
    ),
    IndustryStyle {
        non_enterprise_share: 0.9,
        ..style(36, 80, &["教育科技有限公司"], &[], 0.0, 0.0)
    },
    style(
        37,
        200,
        &[
            "物流有限公司",
            "运输有限公司",
            "货运有限公司",
            "供应链管理有限公司",
        ],
        &["货运部", "运输服务部"],
        0.15,
        0.05,
    ),
    style(
        38,
        4,
        &["客运有限公司", "旅游客运有限公司", "汽车运输有限公司"],
        &[],
        0.0,
        0.0,
    ),
    style(
        39,
        1000,
        &[
            "美容美发有限公司",
            "美发有限公司",
            "美容有限公司",
            "形象设计有限公司",
        ],
        &["美发店", "理发店", "美容院", "美发工作室", "美甲店", "发艺"],
        0.7,
        0.15,
    ),
    style(
        40,
        800,
        &[
            "商贸有限公司",
            "贸易有限公司",
            "食品有限公司",
            "工贸有限公司",
        ],
        &["商贸部", "经营部", "商行", "批发部"],
        0.35,
        0.03,
    ),
];

/// The style for `category`, or a generic trading style for a category this table lacks.
pub fn style_for(category: u8) -> IndustryStyle {
    STYLES
        .iter()
        .find(|s| s.category == category)
        .copied()
        .unwrap_or(style(
            category,
            50,
            &["商贸有限公司"],
            &["经营部"],
            0.3,
            0.0,
        ))
}

/// The noun a private non-enterprise unit (民办非企业单位) of `category` ends its name with.
pub fn non_enterprise_noun(category: u8) -> &'static str {
    match category {
        36 => "幼儿园",
        _ => "养老院",
    }
}

/// The noun a farmers' cooperative of `category` ends its name with.
pub fn cooperative_noun(category: u8) -> &'static str {
    match category {
        23 => "蔬菜种植专业合作社",
        _ => "乡村旅游专业合作社",
    }
}

/// Chance that a permit of `category` takes the as-needed licence `kind`.
pub fn if_needed_probability(category: u8, kind: LicenceKind) -> f64 {
    use LicenceKind::*;
    match (category, kind) {
        (3 | 28, Sewage) => 0.55,
        (3, Tobacco) => 0.15,
        (2, Food) => 0.35,
        (2, MedicalDeviceFiling) => 0.7,
        (2, MedicalDevice) => 0.3,
        (1, Radiation) => 0.08,
        (4, HighRiskSports) => 0.25,
        (4, Food) => 0.3,
        (4, Hygiene) => 0.6,
        (5, Food) => 0.92,
        (5, Tobacco) => 0.7,
        (5, Drug) => 0.06,
        (5, Publication) => 0.15,
        (5, MedicalDeviceFiling) => 0.15,
        (6, Hygiene) => 0.2,
        (6, Sewage) => 0.1,
        (6, PublicationRentalFiling) => 0.1,
        (6, Food | SmallScaleFood) => 0.25,
        (7, Hygiene) => 0.5,
        (7, InternetDrugInformation) => 0.5,
        (8, Food) => 0.85,
        (8, MedicalInstitution) => 0.3,
        (8, Sewage) => 0.4,
        (9, MedicalDevice) => 0.8,
        (9, MedicalDeviceOnlineFiling) => 0.2,
        (10, Radiation) => 0.4,
        (10, Sewage) => 0.3,
        (11, Food | SmallScaleFood) => 0.5,
        (11, Sewage) => 0.5,
        (12, Food) => 0.6,
        (12 | 13, Sewage) => 0.4,
        (13, Food) => 0.7,
        (14, Hygiene) => 0.5,
        (14, Food) => 0.4,
        (15, InternetCulture) => 0.8,
        (15, Food) => 0.6,
        (16, HumanResources) => 0.85,
        (16, LabourDispatch) => 0.4,
        (17, Food) => 0.3,
        (17, Sewage) => 0.5,
        (18 | 25 | 31, Publication) => 0.08,
        (18 | 25 | 31, Sewage) => 0.25,
        (19, Food | SmallScaleFood) => 0.6,
        (20, Hygiene) => 0.5,
        (21, Drug) => 0.05,
        (21, Publication) => 0.1,
        (21, MedicalDeviceFiling) => 0.1,
        (21, Hygiene) => 0.1,
        (22, FireSafety) => 0.5,
        (22, Food) => 0.4,
        (22, Publication) => 0.2,
        (23, Food) => 0.9,
        (23, Tobacco) => 0.2,
        (24, Drug) => 0.5,
        (24, MedicalDevice) => 0.2,
        (24, MedicalDeviceFiling) => 0.4,
        (24, Radiation) => 0.1,
        (25, PublicationBranchFiling) => 0.05,
        (26, Entertainment) => 0.3,
        (26, Tobacco) => 0.4,
        (26, Sewage) => 0.3,
        (27, HighRiskSports) => 0.5,
        (27, Food) => 0.3,
        (27, MedicalDeviceFiling) => 0.05,
        (29, HighRiskSports) => 0.5,
        (29, Food) => 0.15,
        (29, SmallGroceryFiling) => 0.05,
        (30, Sewage) => 0.75,
        (30, WaterAbstraction) => 0.1,
        (33, Radiation) => 0.3,
        (33, Sewage) => 0.5,
        (34, Sewage) => 0.6,
        (34, Food) => 0.1,
        (36, Food) => 0.85,
        (36, Sewage) => 0.3,
        (37, TransportFiling) => 0.3,
        (38, TransportDecision) => 0.3,
        (39, Sewage) => 0.3,
        (40, Food) => 0.6,
        (40, Tobacco) => 0.3,
        (40, Drug) => 0.08,
        (40, MedicalDeviceFiling) => 0.2,
        (40, Halal) => 0.03,
        (_, Halal) => 0.03,
        (_, Radiation | WaterAbstraction | InternetDrugInformation) => 0.05,
        _ => DEFAULT_IF_NEEDED,
    }
}

/// Chance that an either-or food requirement is met with the small-scale licence
/// (北京市小规模食品生产经营许可证) rather than 食品经营许可证.
pub fn small_scale_probability(category: u8) -> f64 {
    match category {
        18 | 25 | 31 => 0.45,
        3 | 28 => 0.2,
        19 => 0.35,
        26 => 0.15,
        _ => 0.1,
    }
}

/// 食品经营许可证 subject digit for `category`: 1 食品销售, 2 餐饮服务, 3 单位食堂.
pub fn food_subject(category: u8) -> u8 {
    match category {
        3 | 11 | 12 | 13 | 14 | 15 | 17 | 18 | 19 | 22 | 25 | 26 | 28 | 31 => 2,
        8 | 34 | 36 => 3,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles_cover_the_forty_categories_in_order() {
        // One style per category 01–40, each with a name ending, and the biggest share under 16 %.
        for (i, s) in STYLES.iter().enumerate() {
            assert_eq!(usize::from(s.category), i + 1);
            assert!(!s.company_nouns.is_empty());
            assert!(
                s.individual_share == 0.0 || !s.shop_nouns.is_empty(),
                "{}",
                s.category
            );
        }
        let total: u32 = STYLES.iter().map(|s| s.weight).sum();
        let biggest = STYLES.iter().map(|s| s.weight).max().unwrap();
        assert!(
            f64::from(biggest) / f64::from(total) < 0.16,
            "{biggest}/{total}"
        );
    }
}
