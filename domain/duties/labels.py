"""Labels people read for a duty run's words (zh-CN), handed out by the API beside the codes so
the dashboard and any other client show the same words (the duties' names: ``DUTY_LABELS``)."""

from __future__ import annotations

STATUS = {
    "planning": "排期中",
    "waiting": "待办",
    "overdue": "逾期督促中",
    "done": "已完成",
    "skipped": "已跳过（计划暂停或撤销）",
}

OUTCOME = {
    "held": "已召开",
    "on_time": "按期完成",
    "late": "逾期完成",
    "missed": "未巡查",
    "skipped": "已跳过",
}

EVENT = {
    "planned": "排定日期",
    "fulfilled": "单位报告完成",
    "council_opened": "召集议事会",
    "report_sent": "报告已发送",
    "missed": "逾期未完成",
    "reminded": "督促提醒",
    "skipped": "计划已暂停或撤销",
    "done": "结束",
}

AGENDA_SOURCE = {
    "hard_issue": "疑难事项",
    "issue": "本月未办结事项",
    "deliberation": "待协商议题",
    "topic": "村民提议",
}

# What each duty asks of its unit: shown on its page.
DESCRIPTION = {
    "village_council": "每月村民议事会：汇集本月未办结和疑难事项、待协商议题与村民提议，"
    "发起村民议事会协商。",
    "representatives_meeting": "每季度村民代表会议（村委会组织法第二十六条）：生成报告"
    "（疑难事项、逾期未落实的决定），发送参会单位并存档。",
    "joint_meeting": "每季度联席会议：生成全县报告（疑难事项、各乡镇办理情况、逾期决定），"
    "发送各乡镇并存档。",
    "disclosure_monthly": "村务公开（财务，每月）：截止前未登记公开的，告知乡镇并每个工作日督促。",
    "disclosure_quarterly": "村务公开（一般事项，每季度）：截止前未登记公开的，告知乡镇并每个"
    "工作日督促。",
    "patrol": "片长每日巡查一小时：次日早晨查看前一天是否有巡查记录，未巡查的提醒所在村。",
}
