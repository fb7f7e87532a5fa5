//! Where the synthetic businesses are: Fangshan's 28 towns and sub-districts (乡镇街道) with their
//! roads and villages, and the other Beijing districts that permit numbers spill into.
//!
//! Owns the place tables and the premises (经营场所) text built from them. It never draws a
//! random number itself: callers pass the indices they drew, so the generator stays the only
//! owner of the random stream.
//!
//! Sources and judgement:
//! - the town list, their kinds and 9-digit statistical codes are FACTS.md's (GB/T 2260 110111 +
//!   3 digits);
//! - the roads FACTS.md records from real addresses (政通路, 拱辰北大街, 长虹东路, 怡和北路, 长兴路,
//!   火车站路, 杏花东路, 双泉路, 凤凰亭路, 京深路, 苏庄, 昊天) stand first in their town's list;
//! - every other road and village name is *plausible, not a gazetteer*: built from the town's
//!   own name and the words Beijing road names commonly use (大街, 东路, 南街…), so addresses
//!   read right to a local without claiming that the exact street exists;
//! - the weights say where shops are: the 良乡/拱辰/西潞/长阳 new town and 城关 and 燕山 hold most
//!   of the district's commerce; the mountain 乡 in the west hold few businesses, mostly homestays.

/// The kind of a township-level unit; addresses in a 乡 name a village rather than a road.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TownKind {
    /// 街道
    SubDistrict,
    /// 镇
    Town,
    /// 乡
    Township,
}

/// One of Fangshan's 28 township-level units.
#[derive(Debug, Clone, Copy)]
pub struct Town {
    /// Full name as written in an address: `拱辰街道`, `长阳镇`, `霞云岭乡`.
    pub name: &'static str,
    /// The short name used inside business names: `拱辰`, `长阳`; the four 燕山 sub-districts
    /// use `燕山`, which is what shops there call themselves.
    pub short: &'static str,
    /// Last three digits of the 9-digit statistical code 110111xxx.
    pub code: u16,
    pub kind: TownKind,
    /// Relative share of businesses located here (any unit; only ratios matter).
    pub weight: u32,
    /// Relative share of rural homestays (乡村民宿) located here.
    pub homestay_weight: u32,
    /// Roads; the first ones are real where FACTS.md records them.
    pub roads: &'static [&'static str],
    /// Villages, used for rural addresses (`{town}{village}{n}号`).
    pub villages: &'static [&'static str],
}

/// Fangshan's 8 sub-districts, 14 towns and 6 townships, in statistical-code order.
pub const TOWNS: [Town; 28] = [
    Town {
        name: "城关街道",
        short: "城关",
        code: 1,
        kind: TownKind::SubDistrict,
        weight: 80,
        homestay_weight: 0,
        roads: &[
            "火车站路",
            "杏花东路",
            "杏花西路",
            "城关大街",
            "北关东路",
            "东沙河路",
            "饶乐府路",
        ],
        villages: &[],
    },
    Town {
        name: "新镇街道",
        short: "新镇",
        code: 2,
        kind: TownKind::SubDistrict,
        weight: 15,
        homestay_weight: 0,
        roads: &["新镇大街", "新镇东路", "新镇北街", "兴业路"],
        villages: &[],
    },
    Town {
        name: "向阳街道",
        short: "燕山",
        code: 4,
        kind: TownKind::SubDistrict,
        weight: 18,
        homestay_weight: 0,
        roads: &["双泉路", "凤凰亭路", "向阳路", "燕房路", "岗南路"],
        villages: &[],
    },
    Town {
        name: "东风街道",
        short: "燕山",
        code: 5,
        kind: TownKind::SubDistrict,
        weight: 16,
        homestay_weight: 0,
        roads: &["双泉路", "凤凰亭路", "东风街", "燕东路", "东流水路"],
        villages: &[],
    },
    Town {
        name: "迎风街道",
        short: "燕山",
        code: 6,
        kind: TownKind::SubDistrict,
        weight: 18,
        homestay_weight: 0,
        roads: &["凤凰亭路", "双泉路", "迎风街", "迎风西路", "燕房路"],
        villages: &[],
    },
    Town {
        name: "星城街道",
        short: "燕山",
        code: 7,
        kind: TownKind::SubDistrict,
        weight: 16,
        homestay_weight: 0,
        roads: &["双泉路", "星城街", "星城北路", "岗南路"],
        villages: &[],
    },
    Town {
        name: "良乡镇",
        short: "良乡",
        code: 8,
        kind: TownKind::Town,
        weight: 90,
        homestay_weight: 0,
        roads: &[
            "昊天大街",
            "昊天北路",
            "良乡东路",
            "良乡南大街",
            "官道大街",
            "刺猬河路",
        ],
        villages: &["官道村", "东石羊村", "黄辛庄村", "南刘庄村"],
    },
    Town {
        name: "周口店镇",
        short: "周口店",
        code: 9,
        kind: TownKind::Town,
        weight: 25,
        homestay_weight: 40,
        roads: &["周口店大街", "周口店路", "龙骨山路", "黄山店路"],
        villages: &["周口店村", "黄山店村", "娄子水村", "车厂村"],
    },
    Town {
        name: "琉璃河镇",
        short: "琉璃河",
        code: 10,
        kind: TownKind::Town,
        weight: 35,
        homestay_weight: 3,
        roads: &["琉璃河大街", "京广路", "琉璃河东路", "兴礼路"],
        villages: &["董家林村", "琉璃河村", "洄城村", "务滋村"],
    },
    Town {
        name: "拱辰街道",
        short: "拱辰",
        code: 11,
        kind: TownKind::SubDistrict,
        weight: 130,
        homestay_weight: 0,
        roads: &[
            "政通路",
            "拱辰北大街",
            "长虹东路",
            "拱辰南大街",
            "长虹西路",
            "府前街",
            "体育场路",
            "鸿顺路",
        ],
        villages: &[],
    },
    Town {
        name: "西潞街道",
        short: "西潞",
        code: 12,
        kind: TownKind::SubDistrict,
        weight: 90,
        homestay_weight: 0,
        roads: &[
            "苏庄大街",
            "西潞大街",
            "苏庄东街",
            "西潞北路",
            "苏庄西路",
            "太平庄路",
        ],
        villages: &[],
    },
    Town {
        name: "阎村镇",
        short: "阎村",
        code: 101,
        kind: TownKind::Town,
        weight: 45,
        homestay_weight: 0,
        roads: &["京深路", "阎村大街", "阎富路", "阎村南路", "工业园路"],
        villages: &["大紫草坞村", "小紫草坞村", "阎村村", "后十三里村"],
    },
    Town {
        name: "窦店镇",
        short: "窦店",
        code: 103,
        kind: TownKind::Town,
        weight: 45,
        homestay_weight: 0,
        roads: &["京深路", "窦店大街", "窦店南路", "窦店西路", "工业园路"],
        villages: &["窦店村", "芦村", "交道村", "瓦窑头村"],
    },
    Town {
        name: "石楼镇",
        short: "石楼",
        code: 104,
        kind: TownKind::Town,
        weight: 18,
        homestay_weight: 2,
        roads: &["石楼大街", "石楼东路", "二站路"],
        villages: &["石楼村", "二站村", "夏村", "坨头村"],
    },
    Town {
        name: "长阳镇",
        short: "长阳",
        code: 105,
        kind: TownKind::Town,
        weight: 130,
        homestay_weight: 0,
        roads: &[
            "怡和北路",
            "长兴路",
            "长政南街",
            "长泽北街",
            "长韵路",
            "长阳路",
            "稻田南路",
            "汇商路",
        ],
        villages: &["长阳村", "稻田村", "高岭村", "佛满村"],
    },
    Town {
        name: "河北镇",
        short: "河北",
        code: 107,
        kind: TownKind::Town,
        weight: 12,
        homestay_weight: 25,
        roads: &["河北大街", "河北中路", "万佛堂路"],
        villages: &["河北村", "万佛堂村", "磁家务村", "东港村"],
    },
    Town {
        name: "长沟镇",
        short: "长沟",
        code: 108,
        kind: TownKind::Town,
        weight: 14,
        homestay_weight: 20,
        roads: &["长沟大街", "长沟东路", "泉水路"],
        villages: &["长沟村", "沿村", "东良各庄村", "坟庄村"],
    },
    Town {
        name: "大石窝镇",
        short: "大石窝",
        code: 109,
        kind: TownKind::Town,
        weight: 14,
        homestay_weight: 10,
        roads: &["大石窝大街", "石窝路", "云居寺路"],
        villages: &["石窝村", "高庄村", "岩上村", "水头村"],
    },
    Town {
        name: "张坊镇",
        short: "张坊",
        code: 110,
        kind: TownKind::Town,
        weight: 14,
        homestay_weight: 40,
        roads: &["张坊大街", "张坊东路", "拒马河路"],
        villages: &["张坊村", "下寺村", "千河口村", "穆家口村"],
    },
    Town {
        name: "十渡镇",
        short: "十渡",
        code: 111,
        kind: TownKind::Town,
        weight: 16,
        homestay_weight: 120,
        roads: &["十渡大街", "十渡路", "拒马河大街"],
        villages: &["十渡村", "六渡村", "七渡村", "八渡村", "九渡村", "西河村"],
    },
    Town {
        name: "青龙湖镇",
        short: "青龙湖",
        code: 112,
        kind: TownKind::Town,
        weight: 20,
        homestay_weight: 25,
        roads: &["青龙湖大街", "坨里路", "青龙湖东路"],
        villages: &["坨里村", "北车营村", "常乐寺村", "上万村"],
    },
    Town {
        name: "韩村河镇",
        short: "韩村河",
        code: 115,
        kind: TownKind::Town,
        weight: 20,
        homestay_weight: 15,
        roads: &["韩村河大街", "韩村河东路", "天开路"],
        villages: &["韩村河村", "天开村", "东营村", "孤山口村"],
    },
    Town {
        name: "霞云岭乡",
        short: "霞云岭",
        code: 208,
        kind: TownKind::Township,
        weight: 4,
        homestay_weight: 30,
        roads: &["霞云岭路"],
        villages: &["堂上村", "霞云岭村", "庄户台村", "石板台村"],
    },
    Town {
        name: "南窖乡",
        short: "南窖",
        code: 209,
        kind: TownKind::Township,
        weight: 4,
        homestay_weight: 12,
        roads: &["南窖路"],
        villages: &["南窖村", "水峪村", "大西沟村"],
    },
    Town {
        name: "佛子庄乡",
        short: "佛子庄",
        code: 210,
        kind: TownKind::Township,
        weight: 4,
        homestay_weight: 10,
        roads: &["佛子庄路"],
        villages: &["佛子庄村", "黑龙关村", "西班各庄村"],
    },
    Town {
        name: "大安山乡",
        short: "大安山",
        code: 211,
        kind: TownKind::Township,
        weight: 2,
        homestay_weight: 6,
        roads: &["大安山路"],
        villages: &["大安山村", "瞧煤涧村", "寺尚村"],
    },
    Town {
        name: "史家营乡",
        short: "史家营",
        code: 212,
        kind: TownKind::Township,
        weight: 2,
        homestay_weight: 8,
        roads: &["史家营路"],
        villages: &["史家营村", "金鸡台村", "曹家坊村"],
    },
    Town {
        name: "蒲洼乡",
        short: "蒲洼",
        code: 213,
        kind: TownKind::Township,
        weight: 2,
        homestay_weight: 12,
        roads: &["蒲洼路"],
        villages: &["蒲洼村", "东村", "芦子水村", "鱼斗泉村"],
    },
];

/// A Beijing district whose division code permit numbers can carry.
#[derive(Debug, Clone, Copy)]
pub struct District {
    /// GB/T 2260 code.
    pub code: u32,
    /// `房山区`
    pub name: &'static str,
    /// `房山`, as business names write it.
    pub short: &'static str,
    /// The one-character abbreviation licence numbers use: `京房…`.
    pub abbreviation: &'static str,
    /// 发证机关 printed on the permit.
    pub authority: &'static str,
    /// A few of the district's real sub-districts, for the spill-over addresses.
    pub sub_districts: &'static [&'static str],
}

/// Fangshan first, then the other fifteen districts in the order numbers spill into them.
///
/// The real Fangshan count is far below 99,999 permits per industry; a 10-million-permit data
/// set needs more, so when a category's sequences under 110111 are used up the generator
/// continues under the next district's code (see the [`super`] module doc).
pub const DISTRICTS: [District; 16] = [
    District {
        code: 110111,
        name: "房山区",
        short: "房山",
        abbreviation: "房",
        authority: "北京市房山区政务服务局",
        sub_districts: &[],
    },
    District {
        code: 110101,
        name: "东城区",
        short: "东城",
        abbreviation: "东",
        authority: "北京市东城区政务服务局",
        sub_districts: &["东华门街道", "景山街道", "朝阳门街道", "东直门街道"],
    },
    District {
        code: 110102,
        name: "西城区",
        short: "西城",
        abbreviation: "西",
        authority: "北京市西城区政务服务局",
        sub_districts: &["德胜街道", "金融街街道", "新街口街道", "月坛街道"],
    },
    District {
        code: 110105,
        name: "朝阳区",
        short: "朝阳",
        abbreviation: "朝",
        authority: "北京市朝阳区政务服务局",
        sub_districts: &["望京街道", "三里屯街道", "建外街道", "劲松街道"],
    },
    District {
        code: 110106,
        name: "丰台区",
        short: "丰台",
        abbreviation: "丰",
        authority: "北京市丰台区政务服务局",
        sub_districts: &["方庄街道", "丰台街道", "卢沟桥街道", "右安门街道"],
    },
    District {
        code: 110107,
        name: "石景山区",
        short: "石景山",
        abbreviation: "石",
        authority: "北京市石景山区政务服务局",
        sub_districts: &["八角街道", "古城街道", "鲁谷街道", "苹果园街道"],
    },
    District {
        code: 110108,
        name: "海淀区",
        short: "海淀",
        abbreviation: "海",
        authority: "北京市海淀区政务服务局",
        sub_districts: &["中关村街道", "海淀街道", "学院路街道", "万寿路街道"],
    },
    District {
        code: 110109,
        name: "门头沟区",
        short: "门头沟",
        abbreviation: "门",
        authority: "北京市门头沟区政务服务局",
        sub_districts: &["大峪街道", "城子街道", "永定镇"],
    },
    District {
        code: 110112,
        name: "通州区",
        short: "通州",
        abbreviation: "通",
        authority: "北京市通州区政务服务局",
        sub_districts: &["北苑街道", "新华街道", "永顺镇", "梨园镇"],
    },
    District {
        code: 110113,
        name: "顺义区",
        short: "顺义",
        abbreviation: "顺",
        authority: "北京市顺义区政务服务局",
        sub_districts: &["胜利街道", "石园街道", "仁和镇", "后沙峪镇"],
    },
    District {
        code: 110114,
        name: "昌平区",
        short: "昌平",
        abbreviation: "昌",
        authority: "北京市昌平区政务服务局",
        sub_districts: &["城北街道", "回龙观街道", "天通苑北街道", "南邵镇"],
    },
    District {
        code: 110115,
        name: "大兴区",
        short: "大兴",
        abbreviation: "大",
        authority: "北京市大兴区政务服务局",
        sub_districts: &["兴丰街道", "林校路街道", "黄村镇", "旧宫镇"],
    },
    District {
        code: 110116,
        name: "怀柔区",
        short: "怀柔",
        abbreviation: "怀",
        authority: "北京市怀柔区政务服务局",
        sub_districts: &["泉河街道", "龙山街道", "雁栖镇"],
    },
    District {
        code: 110117,
        name: "平谷区",
        short: "平谷",
        abbreviation: "平",
        authority: "北京市平谷区政务服务局",
        sub_districts: &["滨河街道", "兴谷街道", "马坊镇"],
    },
    District {
        code: 110118,
        name: "密云区",
        short: "密云",
        abbreviation: "密",
        authority: "北京市密云区政务服务局",
        sub_districts: &["鼓楼街道", "果园街道", "溪翁庄镇"],
    },
    District {
        code: 110119,
        name: "延庆区",
        short: "延庆",
        abbreviation: "延",
        authority: "北京市延庆区政务服务局",
        sub_districts: &["百泉街道", "香水园街道", "儒林街道"],
    },
];

/// Road words for spill-over addresses outside Fangshan (plausible, not a gazetteer).
pub const OTHER_DISTRICT_ROADS: [&str; 12] = [
    "建设路",
    "文化路",
    "光明街",
    "民主街",
    "府前街",
    "新华大街",
    "兴业路",
    "育才路",
    "幸福街",
    "朝阳路",
    "和平街",
    "工业路",
];

/// How the premises line ends after `{n}号`: building, floor and room in the forms real
/// addresses use. `{b}` building, `{f}` floor, `{r}` room are filled in by [`write_premises`].
#[derive(Debug, Clone, Copy)]
pub enum PremisesDetail {
    /// Nothing after the street number (a street-front shop).
    None,
    /// `院{b}号楼{f}层{r}`
    CourtyardBuilding,
    /// `{b}号楼1层{r}`: a ground-floor shop in a residential block (底商).
    GroundFloorShop,
    /// `{f}层{r}室`
    FloorRoom,
    /// `底商{r}号`
    Storefront,
    /// `{b}幢{f}层{r}号`
    Block,
}

/// The numbers a premises line needs, drawn by the caller.
#[derive(Debug, Clone, Copy)]
pub struct PremisesDraw {
    pub road_or_village: usize,
    pub rural: bool,
    pub number: u32,
    pub detail: PremisesDetail,
    pub building: u32,
    pub floor: u32,
    pub room: u32,
}

/// Appends `北京市房山区{town}{road}{n}号{detail}` (or `…{town}{village}{n}号` for rural
/// premises) to `out`.
pub fn write_premises(out: &mut String, town: &Town, draw: &PremisesDraw) {
    use std::fmt::Write;
    out.push_str("北京市房山区");
    out.push_str(town.name);
    let rural = (draw.rural || town.roads.is_empty()) && !town.villages.is_empty();
    if rural {
        out.push_str(town.villages[draw.road_or_village % town.villages.len()]);
        let _ = write!(out, "{}号", draw.number);
        return;
    }
    out.push_str(town.roads[draw.road_or_village % town.roads.len()]);
    let _ = write!(out, "{}号", draw.number);
    write_detail(out, draw);
}

/// Appends `北京市{district}{sub-district}{road}{n}号{detail}` for a spill-over district.
pub fn write_other_district_premises(out: &mut String, district: &District, draw: &PremisesDraw) {
    use std::fmt::Write;
    out.push_str("北京市");
    out.push_str(district.name);
    if !district.sub_districts.is_empty() {
        out.push_str(district.sub_districts[draw.road_or_village % district.sub_districts.len()]);
    }
    out.push_str(
        OTHER_DISTRICT_ROADS
            [(draw.building as usize + draw.room as usize) % OTHER_DISTRICT_ROADS.len()],
    );
    let _ = write!(out, "{}号", draw.number);
    write_detail(out, draw);
}

fn write_detail(out: &mut String, draw: &PremisesDraw) {
    use std::fmt::Write;
    let (b, f, r) = (draw.building, draw.floor, draw.room);
    let _ = match draw.detail {
        PremisesDetail::None => Ok(()),
        PremisesDetail::CourtyardBuilding => write!(out, "院{b}号楼{f}层{f}{r:02}"),
        PremisesDetail::GroundFloorShop => write!(out, "{b}号楼1层1{r:02}"),
        PremisesDetail::FloorRoom => write!(out, "{f}层{f}{r:02}室"),
        PremisesDetail::Storefront => write!(out, "底商{r}号"),
        PremisesDetail::Block => write!(out, "{b}幢{f}层{r}号"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn town_table_matches_facts() {
        // 28 units: 8 街道, 14 镇, 6 乡, each name ending in its kind, codes unique and ascending.
        let count = |k| TOWNS.iter().filter(|t| t.kind == k).count();
        assert_eq!(
            (
                count(TownKind::SubDistrict),
                count(TownKind::Town),
                count(TownKind::Township)
            ),
            (8, 14, 6)
        );
        for pair in TOWNS.windows(2) {
            assert!(pair[0].code < pair[1].code);
        }
        for town in &TOWNS {
            let suffix = match town.kind {
                TownKind::SubDistrict => "街道",
                TownKind::Town => "镇",
                TownKind::Township => "乡",
            };
            assert!(town.name.ends_with(suffix), "{}", town.name);
            assert!(
                !town.roads.is_empty() || !town.villages.is_empty(),
                "{}",
                town.name
            );
            assert!(town.weight > 0);
        }
        assert_eq!(DISTRICTS[0].code, 110111);
    }
}
