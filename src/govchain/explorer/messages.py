# ruff: noqa: RUF001  (Chinese text takes full-width punctuation)
"""The explorer's words: key -> (Simplified Chinese, English).

One table, so a missing translation is one line to add and a test can check
that every key a template uses is here in both languages.
"""

from __future__ import annotations

CORE_MESSAGES: dict[str, tuple[str, str]] = {
    # chrome
    "brand": ("govchain 区块链浏览器", "govchain explorer"),
    "skip_to_content": ("跳到正文", "Skip to content"),
    "search": ("搜索", "Search"),
    "search_label": (
        "搜索交易、地址、高度、提案或仓单",
        "Search transactions, addresses, heights, proposals or receipts",
    ),
    "search_placeholder": (
        "交易 ID、地址、高度、提案 ID、仓单号…",
        "tx id, address, height, proposal id, receipt…",
    ),
    "nav_label": ("主导航", "Main navigation"),
    "nav_home": ("首页", "Home"),
    "nav_dag": ("DAG", "DAG"),
    "nav_checkpoints": ("检查点", "Checkpoints"),
    "nav_governance": ("治理", "Governance"),
    "nav_audit": ("审计日志", "Audit log"),
    "nav_trace": ("资金追踪", "Tracing"),
    "nav_wr": ("仓单", "Warehouse receipts"),
    "nav_report": ("举报", "Report"),
    "chain": ("链", "Chain"),
    "node": ("节点", "Node"),
    "filing_number": ("备案编号", "Filing number"),
    "error_title": ("无法显示此页", "This page cannot be shown"),
    "back_home": ("返回首页", "Back to the home page"),
    "all": ("全部", "All"),
    "more": ("更多", "More"),
    "next_page": ("下一页", "Next page"),
    "first_page": ("第一页", "First page"),
    "none": ("无", "None"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
    # home
    "home_title": ("链概览", "Chain overview"),
    "overview": ("概览", "Overview"),
    "height": ("高度", "Height"),
    "finality_latency": ("最终确认延迟", "Finality latency"),
    "tps": ("每秒交易数", "Transactions per second"),
    "last_minutes": ("最近 {n} 分钟", "last {n} minutes"),
    "dag": ("DAG 顶点", "DAG vertices"),
    "pending": ("待确认", "pending"),
    "tips": ("末端", "tips"),
    "seconds_per_checkpoint": ("检查点间隔", "Checkpoint interval"),
    "peers": ("对等节点", "peers"),
    "tps_chart": ("吞吐量（每秒交易数）", "Throughput (transactions per second)"),
    "dag_strip": ("实时 DAG", "Live DAG"),
    "open_dag": ("打开 DAG 视图", "Open the DAG view"),
    "validators": ("验证者", "Validators"),
    "validator": ("验证者", "Validator"),
    "status": ("状态", "Status"),
    "last_vote": ("最近签名", "Last vote"),
    "this_node": ("本节点", "this node"),
    "connected": ("已连接", "connected"),
    "val_active": ("在线", "active"),
    "val_late": ("滞后", "late"),
    "val_absent": ("缺席", "absent"),
    "latest_checkpoints": ("最新检查点", "Latest checkpoints"),
    "txs": ("交易数", "Transactions"),
    "time": ("时间", "Time"),
    "hash": ("哈希", "Hash"),
    # words the scripts show
    "js_pending": ("待确认", "pending"),
    "js_covered_by": ("由检查点覆盖", "covered by checkpoint"),
    "js_tps": ("每秒交易数", "tx/s"),
    "js_live": ("实时", "live"),
    "js_paused": ("已暂停", "paused"),
    "js_offline": ("连接中断，正在重试…", "connection lost, retrying…"),
}
