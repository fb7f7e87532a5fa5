//! Names of people and businesses: legal representatives (法定代表人/负责人) with common Chinese
//! surnames and given names, and the trade-name words (字号) operator names are built from.
//!
//! Owns the name tables and the few functions that turn drawn indices into names; it does not
//! know industries (their nouns live in [`super::industries`]) and never draws random numbers.
//!
//! Surname weights follow the order of the national household-registration ranking (王, 李, 张,
//! 刘, 陈 … each about 5–7 % at the top, thinning out below); the exact percentages are rounded
//! judgements, good enough that a page of names looks like a page of Beijing names.

use rand::Rng;

/// Common surnames with relative weights (per mille, rounded).
pub const SURNAMES: [(&str, u32); 100] = [
    ("王", 72),
    ("李", 71),
    ("张", 68),
    ("刘", 54),
    ("陈", 45),
    ("杨", 31),
    ("赵", 23),
    ("黄", 22),
    ("周", 21),
    ("吴", 20),
    ("徐", 16),
    ("孙", 15),
    ("胡", 13),
    ("朱", 13),
    ("高", 12),
    ("林", 11),
    ("何", 11),
    ("郭", 11),
    ("马", 11),
    ("罗", 9),
    ("梁", 8),
    ("宋", 8),
    ("郑", 8),
    ("谢", 7),
    ("韩", 7),
    ("唐", 6),
    ("冯", 6),
    ("于", 6),
    ("董", 6),
    ("萧", 5),
    ("程", 5),
    ("曹", 5),
    ("袁", 5),
    ("邓", 5),
    ("许", 5),
    ("傅", 5),
    ("沈", 4),
    ("曾", 4),
    ("彭", 4),
    ("吕", 4),
    ("苏", 4),
    ("卢", 4),
    ("蒋", 4),
    ("蔡", 4),
    ("贾", 4),
    ("丁", 4),
    ("魏", 4),
    ("薛", 3),
    ("叶", 3),
    ("阎", 3),
    ("余", 3),
    ("潘", 3),
    ("杜", 3),
    ("戴", 3),
    ("夏", 3),
    ("钟", 3),
    ("汪", 3),
    ("田", 3),
    ("任", 3),
    ("姜", 3),
    ("范", 3),
    ("方", 3),
    ("石", 3),
    ("姚", 3),
    ("谭", 2),
    ("廖", 2),
    ("邹", 2),
    ("熊", 2),
    ("金", 2),
    ("陆", 2),
    ("郝", 2),
    ("孔", 2),
    ("白", 2),
    ("崔", 2),
    ("康", 2),
    ("毛", 2),
    ("邱", 2),
    ("秦", 2),
    ("江", 2),
    ("史", 2),
    ("顾", 2),
    ("侯", 2),
    ("邵", 2),
    ("孟", 2),
    ("龙", 2),
    ("万", 2),
    ("段", 2),
    ("雷", 2),
    ("钱", 2),
    ("汤", 2),
    ("尹", 2),
    ("黎", 2),
    ("易", 2),
    ("常", 2),
    ("武", 2),
    ("乔", 2),
    ("贺", 2),
    ("赖", 1),
    ("龚", 1),
    ("文", 1),
];

/// Characters common in given names, either alone (`王伟`) or in pairs (`李秀英`).
pub const GIVEN_NAME_CHARACTERS: [&str; 120] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "英", "霞", "平", "刚", "桂", "兰", "玉", "华", "建", "国", "红", "海", "林", "波",
    "辉", "鹏", "飞", "宇", "浩", "凯", "晨", "欣", "怡", "婷", "雪", "梅", "琳", "颖", "倩", "佳",
    "嘉", "子", "文", "博", "志", "成", "俊", "峰", "斌", "彬", "亮", "宁", "永", "春", "立", "新",
    "云", "雨", "思", "雅", "睿", "轩", "然", "晓", "晶", "慧", "丹", "燕", "萍", "凤", "荣", "彤",
    "鑫", "旭", "瑞", "鸿", "德", "福", "祥", "庆", "东", "振", "金", "良", "玲", "莉", "淑", "琴",
    "秋", "菊", "冬", "丰", "广", "宏", "利", "民", "生", "天", "勤", "学", "晖", "楠", "畅", "昊",
    "航", "硕", "阳", "泽", "宸", "铭", "诗", "涵",
];

/// Characters for trade names (字号); two of them make one (`鑫盛`, `福源`).
pub const TRADE_NAME_CHARACTERS: [&str; 96] = [
    "鑫", "盛", "福", "源", "金", "鼎", "兴", "隆", "顺", "达", "恒", "泰", "嘉", "禾", "瑞", "祥",
    "宏", "远", "佳", "和", "康", "宁", "华", "美", "悦", "优", "汇", "聚", "博", "雅", "君", "安",
    "永", "昌", "德", "益", "丰", "荣", "新", "锦", "天", "海", "宇", "星", "明", "辰", "晨", "阳",
    "乐", "欣", "诚", "信", "合", "众", "京", "燕", "良", "岳", "峰", "云", "润", "亿", "万", "富",
    "吉", "喜", "旺", "宝", "龙", "凤", "仁", "义", "智", "尚", "品", "味", "香", "鲜", "家", "乡",
    "园", "林", "山", "水", "石", "川", "泉", "晟", "煜", "航", "启", "骏", "睿", "卓", "凯", "沣",
];

/// Draws a surname by [`SURNAMES`] weight.
pub fn surname(rng: &mut impl Rng) -> &'static str {
    const TOTAL: u32 = {
        let mut sum = 0;
        let mut i = 0;
        while i < SURNAMES.len() {
            sum += SURNAMES[i].1;
            i += 1;
        }
        sum
    };
    let mut r = rng.random_range(0..TOTAL);
    for (name, weight) in SURNAMES {
        if r < weight {
            return name;
        }
        r -= weight;
    }
    SURNAMES[0].0
}

/// Appends a full person name (surname + one or two given-name characters) to `out`, and
/// returns the surname (an individual business may be called `张记…` after its owner).
pub fn write_person_name(rng: &mut impl Rng, out: &mut String) -> &'static str {
    let family = surname(rng);
    out.push_str(family);
    let first = rng.random_range(0..GIVEN_NAME_CHARACTERS.len());
    out.push_str(GIVEN_NAME_CHARACTERS[first]);
    // About seven in ten given names have two characters; never the same one twice in a row
    // except in the reduplicated names that are common (婷婷, 欣欣), kept at a small share.
    if rng.random_bool(0.7) {
        let mut second = rng.random_range(0..GIVEN_NAME_CHARACTERS.len());
        if second == first && rng.random_bool(0.7) {
            second = (second + 7) % GIVEN_NAME_CHARACTERS.len();
        }
        out.push_str(GIVEN_NAME_CHARACTERS[second]);
    }
    family
}

/// Appends a two-character trade name (字号) to `out`.
pub fn write_trade_name(rng: &mut impl Rng, out: &mut String) {
    let first = rng.random_range(0..TRADE_NAME_CHARACTERS.len());
    let mut second = rng.random_range(0..TRADE_NAME_CHARACTERS.len() - 1);
    if second >= first {
        second += 1; // never the same character twice
    }
    out.push_str(TRADE_NAME_CHARACTERS[first]);
    out.push_str(TRADE_NAME_CHARACTERS[second]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn person_and_trade_names_are_well_formed() {
        // Every drawn person name is 2–3 Han characters, trade names exactly 2 distinct ones.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..2_000 {
            let mut name = String::new();
            let family = write_person_name(&mut rng, &mut name);
            assert!(name.starts_with(family));
            let n = name.chars().count();
            assert!((2..=3).contains(&n), "{name}");
            assert!(
                name.chars().all(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{name}"
            );
            let mut trade = String::new();
            write_trade_name(&mut rng, &mut trade);
            let chars: Vec<char> = trade.chars().collect();
            assert_eq!(chars.len(), 2);
            assert_ne!(chars[0], chars[1]);
        }
    }

    #[test]
    fn common_surnames_dominate() {
        // The top five surnames make roughly a third of all names, as in the national ranking.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let top = ["王", "李", "张", "刘", "陈"];
        let hits = (0..10_000)
            .filter(|_| top.contains(&surname(&mut rng)))
            .count();
        assert!((2_500..4_000).contains(&hits), "{hits}");
    }
}
