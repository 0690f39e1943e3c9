"""Content-rule matching throughput: ContentRules.match on data records, on one core.

Times match(payload_hash, media_type, data) on 4 KiB and 64 KiB records of
Chinese and of English text with 0, 10 and 100 keyword rules (term lengths 2..8
characters, so 7 distinct n-gram lengths), none of which matches: every length
is scanned in full, the verdict execution reaches for most records. Texts are
drawn from word lists with a fixed seed: realistic repetition of short n-grams,
no repeated sentences. The worst-case rows (skip them with --no-worst) put 16
keyword rules of lengths 1..16 on hostile 64 KiB records: random printable
ASCII, where hardly a window repeats; random ASCII mixed with U+FDFA, which NFKC
expands to 18 characters, so the normalized text is longer than the record; and
64 KiB of combining marks, which normalize cuts short (docs/content-rules.md).
Times are process CPU time unless --clock wall.

    PYTHONPATH=src python bench/bench_policy.py [--quick] [--json] [--hashers] [--profile]
"""

from __future__ import annotations

import cProfile
import hashlib
import importlib
import io
import pstats
import random
import string
from collections.abc import Callable
from typing import Any

from common import (
    Reporter,
    arg_parser,
    fmt_rate,
    load_note,
    machine_info,
    machine_line,
    now,
    set_clock,
)
from govchain.dag.tx import payload_hash
from govchain.state import policy
from govchain.state.keyword_hash import KEYWORD_DOMAIN
from govchain.state.policy import (
    KEYWORD_CHARS_MAX,
    ContentRules,
    RuleAction,
    keyword_rule,
    normalize,
    scan_of,
)

SIZES = (4 * 1024, 64 * 1024)
RULE_COUNTS = (0, 10, 100)
MEDIA_TYPE = "text/plain; charset=utf-8"

# Common words of everyday written Chinese (news and forum register), with the
# punctuation that separates them.
_ZH = (
    "我们 你们 他们 自己 今天 明天 昨天 现在 时候 已经 还是 因为 所以 但是 如果 虽然 可以 "
    "没有 什么 这个 那个 一些 很多 非常 比较 特别 应该 需要 希望 知道 觉得 认为 发现 开始 "
    "问题 工作 生活 学习 学生 老师 朋友 家人 孩子 父母 城市 农村 国家 政府 社会 经济 发展 "
    "市场 企业 公司 产品 服务 用户 价格 数据 信息 网络 技术 系统 平台 管理 安全 环境 健康 "
    "医院 学校 交通 天气 新闻 报道 记者 消息 时间 地方 北京 上海 广州 深圳 中国 世界 历史 "
    "文化 音乐 电影 图书 文章 内容 作者 读者 研究 分析 结果 方法 重要 主要 基本 不同 相关 "
    "进行 提供 提高 增加 减少 支持 参加 组织 活动 会议 计划 项目 合作 关系 情况 条件 影响 "
    "喜欢 一起 起来 出来 回来 东西 事情 感觉 看到 听说 告诉 帮助 准备 继续 完成 解决 选择 "
    "银行 账户 交易 资金 转账 记录 区块 链上 节点 验证 共识 合同 仓单 物流 供应 商品"
)
ZH_WORDS = tuple(_ZH.split())
ZH_PUNCT = ("，", "，", "，", "。", "、", "；", "！", "？", "：")  # noqa: RUF001 (full-width on purpose)
_EN = (
    "the of and to in is you that it he was for on are as with his they at be this have "
    "from or one had by word but not what all were we when your can said there use an each "
    "which she do how their if will up other about out many then them these so some her would "
    "make like him into time has look two more write go see number no way could people my than "
    "first water been call who oil its now find long down day did get come made may part over "
    "new sound take only little work know place year live me back give most very after thing "
    "our just name good sentence man think say great where help through much before line right "
    "too mean old any same tell boy follow came want show also around form three small set put "
    "end does another well large must big even such because turn here why ask went men read "
    "need land different home us move try kind hand picture again change off play spell air "
    "away animal house point page letter mother answer found study still learn should world "
    "market transfer ledger record node block chain proof audit service account payment"
)
EN_WORDS = tuple(_EN.split())
EN_PUNCT = (" ", " ", " ", " ", " ", " ", ", ", ". ", "; ")


# -- workload ------------------------------------------------------------------------
def words_text(
    words: tuple[str, ...] | list[str], punct: tuple[str, ...], size: int, seed: int
) -> bytes:
    """UTF-8 text of exactly size bytes or a little less (whole characters), from words."""
    rng = random.Random(seed)
    parts: list[str] = []
    total = 0
    while total < size:
        w = rng.choice(words)
        if punct is EN_PUNCT and rng.random() < 0.05:
            w = w.capitalize()
        piece = w + (rng.choice(punct) if rng.random() < 0.3 or punct is EN_PUNCT else "")
        parts.append(piece)
        total += len(piece.encode())
    return "".join(parts).encode()[:size].decode("utf-8", "ignore").encode()


def random_ascii(size: int, seed: int) -> bytes:
    """Printable ASCII letters and digits at random: no n-gram repeats (the worst case)."""
    rng = random.Random(seed)
    alphabet = string.ascii_lowercase + string.digits
    return "".join(rng.choice(alphabet) for _ in range(size)).encode()


def hostile_records(size: int) -> dict[str, bytes]:
    """The costliest records we know of for the matcher, size bytes each (see the doc)."""
    rng = random.Random(size)
    alphabet = string.ascii_lowercase + string.digits
    # 8 random characters, then U+FDFA (3 bytes, 18 characters once NFKC'd, 15 kept):
    # 2.1 normalized characters a byte, few of their n-grams repeating.
    units = "".join(
        "".join(rng.choice(alphabet) for _ in range(8)) + "\ufdfa" for _ in range(size // 11 + 1)
    )
    return {
        "random": random_ascii(size, seed=16),
        "expands": units.encode()[:size].decode("utf-8", "ignore").encode(),
        "marks": ("a" + "\u0301\u0316" * (size // 4)).encode()[:size],
    }


def keyword_rules(count: int, lengths: list[int], alphabet: str, seed: int) -> ContentRules:
    """count keyword rules, lengths cycling through `lengths`, over terms absent from the texts."""
    rng = random.Random(seed)
    rules = ContentRules()
    for i in range(count):
        n = lengths[i % len(lengths)]
        term = "".join(rng.choice(alphabet) for _ in range(n))
        rules.add(f"rule-{i + 1}", keyword_rule(term), RuleAction.REJECT, f"proposal-{i + 1}")
    return rules


# Terms from characters the texts never contain, so nothing matches and every
# n-gram length is scanned to the end.
ZH_TERM_CHARS = "".join(chr(c) for c in range(0x9F00, 0x9FA0))
EN_TERM_CHARS = "þðæøœ"  # lowercase and NFKC-stable: a term keeps its length
MIXED_LENGTHS = list(range(2, 9))  # 2..8 characters: 7 distinct n-gram lengths


# -- timing --------------------------------------------------------------------------
def time_per_call(fn: Callable[[], Any], min_seconds: float) -> float:
    """Seconds per call of fn: best of 3 batches, each at least min_seconds / 3 long."""
    fn()  # warm: the normalizer's tables are built on first use
    calls = 1
    while True:
        t0 = now()
        for _ in range(calls):
            fn()
        elapsed = now() - t0
        if elapsed >= min_seconds / 6 or calls >= 1 << 20:
            break
        calls *= 2
    best = elapsed / calls
    for _ in range(2):
        t0 = now()
        for _ in range(calls):
            fn()
        best = min(best, (now() - t0) / calls)
    return best


def measure(rules: ContentRules, data: bytes, min_seconds: float) -> dict[str, float | int | None]:
    """Records/s, MB/s, and the n-gram counts of match() on one record."""
    ph = payload_hash(data)
    assert rules.match(ph, MEDIA_TYPE, data) is None, "bench terms must not match"
    sec = time_per_call(lambda: rules.match(ph, MEDIA_TYPE, data), min_seconds)
    lengths = {e.rule.length for e in rules if isinstance(e.rule, policy.KeywordRule)}
    scan = scan_of(data)
    windows = sum(max(0, scan.chars - n + 1) for n in lengths)
    distinct = sum(len(set(scan.windows(n))) for n in lengths)
    return {
        "records_per_s": 1 / sec,
        "mb_per_s": len(data) / sec / 1e6,
        "us_per_record": sec * 1e6,
        "chars": scan.chars,
        "lengths": len(lengths),
        "windows": windows,
        "distinct": distinct,
        "ns_per_window": (sec / windows * 1e9) if windows else None,
    }


def builtin_sha256() -> Callable[[bytes], Any]:
    """CPython's own SHA-256 constructor (what policy prefers), else hashlib's."""
    for name in ("_sha2", "_sha256"):
        try:
            return importlib.import_module(name).sha256  # type: ignore[no-any-return]
        except ImportError:
            continue
    return hashlib.sha256


def hasher_figures(min_seconds: float) -> dict[str, float]:
    """ns per n-gram hash for each SHA-256 implementation and call pattern.

    Over 4-character grams of random ASCII, sliced beforehand (the slicing is
    common to all); the variants take turns, so all see the same machine.
    """
    grams = list(scan_of(random_ascii(16 * 1024, seed=9)).windows(4))
    target = frozenset([hashlib.sha256(b"x").digest()])
    domain = KEYWORD_DOMAIN

    def copying(ctor: Callable[[bytes], Any]) -> Callable[[], None]:
        new = ctor(domain).copy

        def run() -> None:
            for g in grams:
                h = new()
                h.update(g)
                if h.digest() in target:
                    pass

        return run

    def concat(ctor: Callable[[bytes], Any]) -> Callable[[], None]:
        def run() -> None:
            for g in grams:
                if ctor(domain + g).digest() in target:
                    pass

        return run

    def mapped(ctor: Callable[[bytes], Any]) -> Callable[[], None]:
        digest = type(ctor(b"")).digest

        def run() -> None:
            target.intersection(map(digest, map(ctor, map(domain.__add__, grams))))

        return run

    builtin = builtin_sha256()
    variants = {
        "loop, .copy() of a domain-fed hasher, built-in": copying(builtin),
        "loop, .copy() of a domain-fed hasher, OpenSSL": copying(hashlib.sha256),
        "loop, sha256(domain + gram), built-in": concat(builtin),
        "loop, sha256(domain + gram), OpenSSL": concat(hashlib.sha256),
        "map() chain, sha256(domain + gram), built-in": mapped(builtin),
        "map() chain, sha256(domain + gram), OpenSSL": mapped(hashlib.sha256),
    }
    best = dict.fromkeys(variants, float("inf"))
    deadline = now() + min_seconds * len(variants)
    while now() < deadline:
        for name, fn in variants.items():
            t0 = now()
            fn()
            best[name] = min(best[name], now() - t0)
    return {name: sec / len(grams) * 1e9 for name, sec in best.items()}


# -- main ----------------------------------------------------------------------------
def main() -> None:
    p = arg_parser(__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, help="timing per figure (default 1.5, quick 0.3)")
    p.add_argument("--no-worst", action="store_true", help="skip the worst-case row")
    p.add_argument("--hashers", action="store_true", help="also compare SHA-256 call paths")
    p.add_argument("--profile", action="store_true", help="cProfile 64 KiB Chinese, 100 rules")
    args = p.parse_args()
    set_clock(args.clock)
    min_s = args.seconds or (0.3 if args.quick else 1.5)
    out = Reporter(args.json)
    info = machine_info()

    texts = {("zh", size): words_text(ZH_WORDS, ZH_PUNCT, size, seed=size) for size in SIZES} | {
        ("en", size): words_text(EN_WORDS, EN_PUNCT, size, seed=size + 1) for size in SIZES
    }
    rule_sets = {
        ("zh", n): keyword_rules(n, MIXED_LENGTHS, ZH_TERM_CHARS, seed=n) for n in RULE_COUNTS
    } | {("en", n): keyword_rules(n, MIXED_LENGTHS, EN_TERM_CHARS, seed=n) for n in RULE_COUNTS}

    rows: list[dict[str, Any]] = []
    for (lang, size), data in texts.items():
        for n in RULE_COUNTS:
            out.progress(f"{lang} {size // 1024} KiB, {n} keyword rules...")
            fig = measure(rule_sets[(lang, n)], data, min_s)
            rows.append({"text": lang, "bytes": len(data), "rules": n, **fig})

    norm: dict[str, float] = {}
    for (lang, size), data in texts.items():
        if size == SIZES[-1]:
            text = data.decode()
            sec = time_per_call(lambda text=text: normalize(text), min_s / 3)  # type: ignore[misc]
            norm[lang] = sec / len(data) * 1e9

    worst: list[dict[str, Any]] = []
    if not args.no_worst:
        lengths = list(range(1, KEYWORD_CHARS_MAX + 1))
        rules = keyword_rules(len(lengths), lengths, EN_TERM_CHARS, seed=16)
        for name, data in hostile_records(SIZES[-1]).items():
            out.progress(f"worst case: 64 KiB {name}, 16 keyword rules of lengths 1..16...")
            worst.append({"text": name, "bytes": len(data), "rules": len(lengths)})
            worst[-1] |= measure(rules, data, min_s)

    hashers = hasher_figures(min_s / 3) if args.hashers else None

    result: dict[str, Any] = {
        "bench": "policy",
        "quick": args.quick,
        "clock": args.clock,
        "machine": info,
        "unicode": policy.UNICODE_VERSION,
        "keyword_lengths": MIXED_LENGTHS,
        "rows": rows,
        "normalize_ns_per_byte_64k": norm,
        "worst_cases": worst,
        "hashers_ns_per_hash": hashers,
    }

    out.line(f"machine: {machine_line(info)}")
    note = load_note(info)
    if note:
        out.line(note)
    out.line(
        f"ContentRules.match on one record, no rule matching (full scan); keyword terms of "
        f"{MIXED_LENGTHS[0]}..{MIXED_LENGTHS[-1]} characters; {args.clock} clock; "
        f"Unicode {policy.UNICODE_VERSION}"
    )
    out.line()
    out.line(
        f"  {'text':<7} {'size':>6} {'rules':>5} {'records/s':>11} {'MB/s':>8} "
        f"{'us/record':>10} {'chars':>7} {'windows':>8} {'distinct':>8} {'ns/window':>9}"
    )
    for r in [*rows, *worst]:
        nsw = "" if r["ns_per_window"] is None else f"{r['ns_per_window']:.0f}"
        out.line(
            f"  {r['text'][:7]:<7} {r['bytes'] / 1024:>4.0f}Ki {r['rules']:>5} "
            f"{fmt_rate(r['records_per_s']):>11} {r['mb_per_s']:>8.2f} "
            f"{r['us_per_record']:>10,.0f} {r['chars']:>7,} {r['windows']:>8,} "
            f"{r['distinct']:>8,} {nsw:>9}"
        )
    out.line()
    out.line(
        "  windows: n-grams over all rule lengths; distinct: how many differ (a repeated one "
        "need not be hashed again); last rows: hostile records under lengths 1..16"
    )
    out.line(
        "  normalize() alone, 64 KiB: "
        + ", ".join(f"{lang} {ns:.1f} ns/byte" for lang, ns in norm.items())
    )
    if hashers:
        out.line()
        out.line("  SHA-256 per n-gram (4-character grams of random ASCII):")
        for name, ns in hashers.items():
            out.line(f"    {name:<48} {ns:>6.0f} ns")

    if args.profile:
        prof = cProfile.Profile()
        data = texts[("zh", SIZES[-1])]
        rules = rule_sets[("zh", 100)]
        ph = payload_hash(data)
        prof.enable()
        for _ in range(20):
            rules.match(ph, MEDIA_TYPE, data)
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(12)
        out.line()
        out.line("cProfile, 20 matches of 64 KiB Chinese under 100 rules (by own time):")
        out.line(buf.getvalue())
    out.emit(result)


if __name__ == "__main__":
    main()
