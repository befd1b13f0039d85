//! One endpoint's page: who it is, what its latest facts say, how each scope
//! it is evaluated in judged it (with the evidence of what failed), and its
//! recent reports. The verdicts and their evidence are the API's
//! (`api::endpoint_detail`): the page and `GET /api/v1/endpoints/{id}` cannot
//! disagree. The scope check comes before anything of the endpoint is read.

use super::i18n::Lang;
use super::units::{Crumb, crumbs_in, notice_text};
use super::view;
use super::{Shell, html, require_session, unavailable};
use crate::api::{self, App, EndpointDetail};
use crate::history::{self, Subject};
use crate::scorecard;
use crate::store::{EndpointRow, EvaluationRow, StoreError};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use khien_proto::facts::{Facts, IpFamily, Protocol};
use khien_proto::{CheckResult, Status, Timestamp};
use sqlx::Row;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Reports listed in the history.
const HISTORY: i64 = 20;
/// Verdict changes read for them: far more than twenty reports make in practice.
const CHANGES: i64 = 2000;
const DAY_MS: i64 = 86_400_000;

// ---- words ------------------------------------------------------------------------

pub struct EndpointTexts {
    endpoint: &'static str,
    no_endpoint: &'static str,
    endpoint_forbidden: &'static str,
    os: &'static str,
    role: &'static str,
    workstation: &'static str,
    server: &'static str,
    agent_version: &'static str,
    enrolled_at: &'static str,
    report_seq: &'static str,
    status: &'static str,
    active: &'static str,
    revoked: &'static str,
    systems: &'static str,
    no_systems: &'static str,
    effective_level: &'static str,
    facts_at: &'static str,
    no_facts: &'static str,
    yes: &'static str,
    no: &'static str,
    unknown: &'static str,
    none: &'static str,
    day: &'static str,
    days: &'static str,
    hours: &'static str,
    minutes: &'static str,
    seconds: &'static str,
    // anti-malware
    sec_av: &'static str,
    product: &'static str,
    installed: &'static str,
    running: &'static str,
    realtime: &'static str,
    signatures: &'static str,
    signature_age: &'static str,
    last_scan: &'static str,
    no_av: &'static str,
    // firewall
    sec_fw: &'static str,
    fw_enabled: &'static str,
    fw_default_deny: &'static str,
    fw_backends: &'static str,
    backend: &'static str,
    filtering: &'static str,
    input_policy: &'static str,
    rules: &'static str,
    no_backends: &'static str,
    // network
    sec_net: &'static str,
    interfaces: &'static str,
    interface: &'static str,
    kind: &'static str,
    state: &'static str,
    up: &'static str,
    down: &'static str,
    mac: &'static str,
    addresses: &'static str,
    routes: &'static str,
    gateway: &'static str,
    on_link: &'static str,
    family: &'static str,
    metric: &'static str,
    dns: &'static str,
    resolvers: &'static str,
    upstream: &'static str,
    search: &'static str,
    listening: &'static str,
    protocol: &'static str,
    address: &'static str,
    process: &'static str,
    egress: &'static str,
    reachable: &'static str,
    not_reachable: &'static str,
    no_rows: &'static str,
    // accounts and hardening
    sec_hardening: &'static str,
    g_password: &'static str,
    min_length: &'static str,
    min_classes: &'static str,
    max_days: &'static str,
    history: &'static str,
    hash_method: &'static str,
    lockout_after: &'static str,
    unlock_after: &'static str,
    g_accounts: &'static str,
    local_accounts: &'static str,
    admins: &'static str,
    uid0: &'static str,
    root_locked: &'static str,
    autologin: &'static str,
    mfa: &'static str,
    g_session: &'static str,
    shell_timeout: &'static str,
    screen_lock: &'static str,
    idle_delay: &'static str,
    g_ssh: &'static str,
    ssh_running: &'static str,
    ssh_ports: &'static str,
    permit_root: &'static str,
    password_auth: &'static str,
    max_auth_tries: &'static str,
    g_updates: &'static str,
    pending_updates: &'static str,
    pending_security: &'static str,
    auto_updates: &'static str,
    reboot_required: &'static str,
    last_update: &'static str,
    g_logs: &'static str,
    auditd: &'static str,
    log_forwarding: &'static str,
    log_retention: &'static str,
    time_sync: &'static str,
    time_servers: &'static str,
    g_system: &'static str,
    root_encrypted: &'static str,
    all_encrypted: &'static str,
    usb_blocked: &'static str,
    aslr: &'static str,
    mac_kind: &'static str,
    directory: &'static str,
    probe_errors: &'static str,
    // packages
    sec_packages: &'static str,
    package_count: &'static str,
    package_manager: &'static str,
    // results
    sec_results: &'static str,
    no_evaluations: &'static str,
    default_scope: &'static str,
    default_short: &'static str,
    system: &'static str,
    framework: &'static str,
    framework_missing: &'static str,
    evaluated_at: &'static str,
    on_report: &'static str,
    counts: &'static str,
    results_caption: &'static str,
    requirement: &'static str,
    title: &'static str,
    verdict: &'static str,
    evidence: &'static str,
    observed: &'static str,
    expected: &'static str,
    no_evidence: &'static str,
    pass: &'static str,
    fail: &'static str,
    error: &'static str,
    not_applicable: &'static str,
    manual: &'static str,
    waived: &'static str,
    // history
    sec_history: &'static str,
    history_note: &'static str,
    seq: &'static str,
    received_at: &'static str,
    collected_at: &'static str,
    changes: &'static str,
    no_reports: &'static str,
    latest_facts: &'static str,
}

static VI: EndpointTexts = EndpointTexts {
    endpoint: "Máy trạm",
    no_endpoint: "Không có máy trạm này.",
    endpoint_forbidden: "Máy trạm này nằm ngoài phạm vi của tài khoản.",
    os: "Hệ điều hành",
    role: "Vai trò",
    workstation: "máy trạm",
    server: "máy chủ",
    agent_version: "Phiên bản tác tử",
    enrolled_at: "Ngày đăng ký",
    report_seq: "Số thứ tự báo cáo cuối",
    status: "Trạng thái",
    active: "Đang hoạt động",
    revoked: "Đã thu hồi",
    systems: "Thuộc hệ thống thông tin",
    no_systems: "Không thuộc hệ thống nào: đánh giá theo cấp độ mặc định của đơn vị.",
    effective_level: "Cấp độ áp dụng",
    facts_at: "Dữ kiện thu thập lúc",
    no_facts: "Máy trạm chưa gửi dữ kiện.",
    yes: "Có",
    no: "Không",
    unknown: "Không rõ",
    none: "Không có",
    day: "ngày",
    days: "ngày",
    hours: "giờ",
    minutes: "phút",
    seconds: "giây",
    sec_av: "Phòng chống mã độc",
    product: "Sản phẩm",
    installed: "Đã cài",
    running: "Đang chạy",
    realtime: "Bảo vệ thời gian thực",
    signatures: "Phiên bản mẫu nhận diện",
    signature_age: "Tuổi mẫu nhận diện",
    last_scan: "Lần quét gần nhất",
    no_av: "Không tìm thấy phần mềm phòng chống mã độc.",
    sec_fw: "Tường lửa",
    fw_enabled: "Tường lửa đang hoạt động",
    fw_default_deny: "Chặn kết nối vào theo mặc định",
    fw_backends: "Thành phần tường lửa",
    backend: "Thành phần",
    filtering: "Đang lọc",
    input_policy: "Chính sách mặc định chiều vào",
    rules: "Số quy tắc",
    no_backends: "Không tìm thấy thành phần tường lửa nào.",
    sec_net: "Mạng",
    interfaces: "Giao diện mạng",
    interface: "Giao diện",
    kind: "Loại",
    state: "Trạng thái",
    up: "bật",
    down: "tắt",
    mac: "Địa chỉ MAC",
    addresses: "Địa chỉ IP",
    routes: "Tuyến mặc định",
    gateway: "Cổng mặc định",
    on_link: "trực tiếp (không qua cổng)",
    family: "Họ địa chỉ",
    metric: "Metric",
    dns: "Phân giải tên miền (DNS)",
    resolvers: "Máy chủ DNS",
    upstream: "Máy chủ DNS phía sau",
    search: "Miền tìm kiếm",
    listening: "Cổng đang lắng nghe",
    protocol: "Giao thức",
    address: "Địa chỉ",
    process: "Tiến trình",
    egress: "Kết nối thử ra Internet",
    reachable: "kết nối được",
    not_reachable: "không kết nối được",
    no_rows: "Không có.",
    sec_hardening: "Tài khoản và cấu hình an toàn",
    g_password: "Mật khẩu và khóa tài khoản",
    min_length: "Độ dài mật khẩu tối thiểu",
    min_classes: "Số loại ký tự bắt buộc",
    max_days: "Thời hạn mật khẩu tối đa",
    history: "Số mật khẩu cũ không được dùng lại",
    hash_method: "Thuật toán băm mật khẩu",
    lockout_after: "Khóa tài khoản sau số lần đăng nhập sai",
    unlock_after: "Tự mở khóa sau",
    g_accounts: "Tài khoản",
    local_accounts: "Số tài khoản cục bộ",
    admins: "Tài khoản quản trị",
    uid0: "Tài khoản có UID 0",
    root_locked: "Tài khoản root không đăng nhập bằng mật khẩu",
    autologin: "Tự động đăng nhập",
    mfa: "Xác thực đa yếu tố",
    g_session: "Phiên làm việc",
    shell_timeout: "Thời gian chờ phiên dòng lệnh",
    screen_lock: "Khóa màn hình",
    idle_delay: "Màn hình nghỉ sau",
    g_ssh: "Máy chủ SSH",
    ssh_running: "Dịch vụ SSH đang chạy",
    ssh_ports: "Cổng SSH",
    permit_root: "Cho phép root đăng nhập",
    password_auth: "Đăng nhập bằng mật khẩu",
    max_auth_tries: "Số lần thử xác thực tối đa",
    g_updates: "Cập nhật phần mềm",
    pending_updates: "Bản cập nhật đang chờ",
    pending_security: "Bản vá bảo mật đang chờ",
    auto_updates: "Tự động cập nhật",
    reboot_required: "Cần khởi động lại",
    last_update: "Lần cài đặt hoặc cập nhật gần nhất",
    g_logs: "Nhật ký và thời gian",
    auditd: "Dịch vụ kiểm toán (auditd) đang chạy",
    log_forwarding: "Chuyển nhật ký về máy chủ tập trung",
    log_retention: "Thời gian lưu nhật ký trên máy",
    time_sync: "Đồng hồ đã đồng bộ",
    time_servers: "Máy chủ thời gian",
    g_system: "Hệ thống",
    root_encrypted: "Phân vùng gốc được mã hóa",
    all_encrypted: "Mọi phân vùng được mã hóa",
    usb_blocked: "Chặn thiết bị lưu trữ USB",
    aslr: "Ngẫu nhiên hóa không gian địa chỉ (ASLR)",
    mac_kind: "Kiểm soát truy cập bắt buộc",
    directory: "Gia nhập thư mục tập trung",
    probe_errors: "Dữ kiện không thu thập được",
    sec_packages: "Phần mềm đã cài",
    package_count: "Số gói phần mềm",
    package_manager: "Trình quản lý gói",
    sec_results: "Kết quả đánh giá",
    no_evaluations: "Chưa có kết quả đánh giá.",
    default_scope: "Cấp độ mặc định của đơn vị",
    default_short: "mặc định",
    system: "Hệ thống",
    framework: "Bộ yêu cầu",
    framework_missing: "Bộ yêu cầu này không có trên máy chủ thu thập: không dựng lại được bằng chứng.",
    evaluated_at: "Đánh giá lúc",
    on_report: "theo báo cáo số",
    counts: "Tổng hợp",
    results_caption: "Các yêu cầu, không đạt và lỗi xếp trước",
    requirement: "Yêu cầu",
    title: "Nội dung",
    verdict: "Kết quả",
    evidence: "Bằng chứng",
    observed: "Ghi nhận",
    expected: "Yêu cầu đạt",
    no_evidence: "Không dựng lại được bằng chứng: không đọc được báo cáo đã lưu.",
    pass: "Đạt",
    fail: "Không đạt",
    error: "Lỗi",
    not_applicable: "Không áp dụng",
    manual: "Đánh giá thủ công",
    waived: "Được miễn trừ",
    sec_history: "Lịch sử báo cáo",
    history_note: "Các báo cáo có dữ kiện gần nhất (tối đa 20). Báo cáo định kỳ khi dữ kiện không đổi không được lưu; lần gần nhất là lần báo cáo cuối.",
    seq: "Số thứ tự",
    received_at: "Nhận lúc",
    collected_at: "Thu thập lúc",
    changes: "Thay đổi kết quả",
    no_reports: "Chưa có báo cáo nào được lưu.",
    latest_facts: "dữ kiện hiện tại",
};

static EN: EndpointTexts = EndpointTexts {
    endpoint: "Endpoint",
    no_endpoint: "There is no such endpoint.",
    endpoint_forbidden: "This endpoint is outside your account's scope.",
    os: "Operating system",
    role: "Role",
    workstation: "workstation",
    server: "server",
    agent_version: "Agent version",
    enrolled_at: "Enrolled",
    report_seq: "Last report number",
    status: "Status",
    active: "Active",
    revoked: "Revoked",
    systems: "Information systems",
    no_systems: "In no system: evaluated at the unit's default level.",
    effective_level: "Effective level",
    facts_at: "Facts collected at",
    no_facts: "The endpoint has not sent any facts yet.",
    yes: "Yes",
    no: "No",
    unknown: "Unknown",
    none: "None",
    day: "day",
    days: "days",
    hours: "h",
    minutes: "min",
    seconds: "s",
    sec_av: "Anti-malware",
    product: "Product",
    installed: "Installed",
    running: "Running",
    realtime: "Real-time protection",
    signatures: "Signature version",
    signature_age: "Signature age",
    last_scan: "Last scan",
    no_av: "No anti-malware product was found.",
    sec_fw: "Firewall",
    fw_enabled: "Firewall active",
    fw_default_deny: "Denies inbound connections by default",
    fw_backends: "Firewall backends",
    backend: "Backend",
    filtering: "Filtering",
    input_policy: "Default inbound policy",
    rules: "Rules",
    no_backends: "No firewall backend was found.",
    sec_net: "Network",
    interfaces: "Network interfaces",
    interface: "Interface",
    kind: "Kind",
    state: "State",
    up: "up",
    down: "down",
    mac: "MAC address",
    addresses: "IP addresses",
    routes: "Default routes",
    gateway: "Default gateway",
    on_link: "on link (no gateway)",
    family: "Family",
    metric: "Metric",
    dns: "Name resolution (DNS)",
    resolvers: "DNS servers",
    upstream: "Upstream DNS servers",
    search: "Search domains",
    listening: "Listening sockets",
    protocol: "Protocol",
    address: "Address",
    process: "Process",
    egress: "Outbound connection test",
    reachable: "reachable",
    not_reachable: "not reachable",
    no_rows: "None.",
    sec_hardening: "Accounts and hardening",
    g_password: "Passwords and lockout",
    min_length: "Minimum password length",
    min_classes: "Character classes required",
    max_days: "Maximum password age",
    history: "Previous passwords that cannot be reused",
    hash_method: "Password hash method",
    lockout_after: "Account locks after failed logins",
    unlock_after: "Unlocks by itself after",
    g_accounts: "Accounts",
    local_accounts: "Local accounts",
    admins: "Administrators",
    uid0: "Accounts with UID 0",
    root_locked: "Root cannot log in with a password",
    autologin: "Automatic login",
    mfa: "Multi-factor authentication",
    g_session: "Sessions",
    shell_timeout: "Shell session timeout",
    screen_lock: "Screen lock",
    idle_delay: "Screen idle after",
    g_ssh: "SSH server",
    ssh_running: "SSH service running",
    ssh_ports: "SSH ports",
    permit_root: "Root login allowed",
    password_auth: "Password login",
    max_auth_tries: "Maximum authentication attempts",
    g_updates: "Software updates",
    pending_updates: "Pending updates",
    pending_security: "Pending security updates",
    auto_updates: "Automatic updates",
    reboot_required: "Reboot required",
    last_update: "Last install or upgrade",
    g_logs: "Logs and time",
    auditd: "Audit service (auditd) running",
    log_forwarding: "Logs forwarded to a central server",
    log_retention: "Local log retention",
    time_sync: "Clock synchronised",
    time_servers: "Time servers",
    g_system: "System",
    root_encrypted: "Root filesystem encrypted",
    all_encrypted: "All filesystems encrypted",
    usb_blocked: "USB storage blocked",
    aslr: "Address space layout randomisation (ASLR)",
    mac_kind: "Mandatory access control",
    directory: "Joined to a central directory",
    probe_errors: "Facts that could not be collected",
    sec_packages: "Installed software",
    package_count: "Packages",
    package_manager: "Package manager",
    sec_results: "Evaluation results",
    no_evaluations: "No evaluation yet.",
    default_scope: "The unit's default level",
    default_short: "default",
    system: "System",
    framework: "Framework",
    framework_missing: "This framework is not installed on the collector: the evidence cannot be reproduced.",
    evaluated_at: "Evaluated at",
    on_report: "on report",
    counts: "Summary",
    results_caption: "Requirements, failures and errors first",
    requirement: "Requirement",
    title: "Title",
    verdict: "Verdict",
    evidence: "Evidence",
    observed: "Observed",
    expected: "Expected",
    no_evidence: "The evidence cannot be reproduced: the stored report could not be read.",
    pass: "Pass",
    fail: "Fail",
    error: "Error",
    not_applicable: "Not applicable",
    manual: "Manual",
    waived: "Waived",
    sec_history: "Report history",
    history_note: "The latest reports with facts (at most 20). Periodic reports with unchanged facts are not stored; the latest is the last report.",
    seq: "No.",
    received_at: "Received",
    collected_at: "Collected",
    changes: "Verdict changes",
    no_reports: "No report is stored yet.",
    latest_facts: "current facts",
};

pub fn texts(lang: Lang) -> &'static EndpointTexts {
    match lang {
        Lang::Vi => &VI,
        Lang::En => &EN,
    }
}

// ---- formatting -------------------------------------------------------------------

fn yes_no(x: &EndpointTexts, v: Option<bool>) -> String {
    match v {
        Some(true) => x.yes.into(),
        Some(false) => x.no.into(),
        None => x.unknown.into(),
    }
}

fn number(lang: Lang, x: &EndpointTexts, v: Option<i64>) -> String {
    v.map(|n| view::int(lang, n)).unwrap_or_else(|| x.unknown.into())
}

fn list(x: &EndpointTexts, items: &[String]) -> String {
    if items.is_empty() { x.none.into() } else { items.join(", ") }
}

fn when(x: &EndpointTexts, t: Option<Timestamp>) -> String {
    t.map(view::datetime).unwrap_or_else(|| x.unknown.into())
}

/// Whole days from `then` to `now`; a time ahead of the collector's clock is zero days old.
fn age_days(now_ms: i64, then_ms: i64) -> i64 {
    (now_ms - then_ms).max(0) / DAY_MS
}

fn days(lang: Lang, x: &EndpointTexts, n: i64) -> String {
    let unit = if n == 1 { x.day } else { x.days };
    format!("{} {unit}", view::int(lang, n))
}

/// Seconds in the largest unit that divides them: `900` is "15 phút".
fn duration(lang: Lang, x: &EndpointTexts, secs: u64) -> String {
    let n = |v: u64| view::int(lang, i64::try_from(v).unwrap_or(i64::MAX));
    if secs > 0 && secs.is_multiple_of(86_400) {
        days(lang, x, i64::try_from(secs / 86_400).unwrap_or(i64::MAX))
    } else if secs > 0 && secs.is_multiple_of(3600) {
        format!("{} {}", n(secs / 3600), x.hours)
    } else if secs > 0 && secs.is_multiple_of(60) {
        format!("{} {}", n(secs / 60), x.minutes)
    } else {
        format!("{} {}", n(secs), x.seconds)
    }
}

fn seconds(lang: Lang, x: &EndpointTexts, v: Option<u64>) -> String {
    v.map(|s| duration(lang, x, s)).unwrap_or_else(|| x.unknown.into())
}

/// A yes/no fact as a tag: its text always, its colour only when one answer is the safe one.
pub struct Flag {
    pub text: String,
    pub tone: &'static str,
}

fn flag(x: &EndpointTexts, v: Option<bool>, good: bool) -> Flag {
    Flag {
        text: yes_no(x, v),
        tone: match v {
            Some(b) if b == good => "good",
            Some(_) => "poor",
            None => "none",
        },
    }
}

/// A verdict as a tag. `status` is the API's spelling (`not_applicable`).
pub struct Verdict {
    pub status: &'static str,
    pub label: &'static str,
    pub tone: &'static str,
}

fn verdict(x: &EndpointTexts, status: Option<Status>) -> Verdict {
    let label = match status {
        Some(Status::Pass) => x.pass,
        Some(Status::Fail) => x.fail,
        Some(Status::Error) => x.error,
        Some(Status::Manual) => x.manual,
        Some(Status::Waived) => x.waived,
        Some(Status::NotApplicable) => x.not_applicable,
        None => x.unknown,
    };
    Verdict {
        status: status.map(Status::as_str).unwrap_or("unknown"),
        label,
        tone: view::status_tone(status),
    }
}

fn os_text(f: &Facts) -> String {
    let os = &f.host.os;
    let name = os.pretty_name.clone().or_else(|| match (&os.name, &os.version) {
        (Some(n), Some(v)) => Some(format!("{n} {v}")),
        (Some(n), None) => Some(n.clone()),
        _ => None,
    });
    let mut out = name.unwrap_or_else(|| f.platform.as_str().to_string());
    if let Some(k) = &f.host.kernel {
        out.push_str(&format!(" · {k}"));
    }
    if !f.host.arch.is_empty() {
        out.push_str(&format!(" · {}", f.host.arch));
    }
    out
}

fn family(f: IpFamily) -> &'static str {
    match f {
        IpFamily::Ipv4 => "IPv4",
        IpFamily::Ipv6 => "IPv6",
    }
}

fn host_port(address: &str, port: u16) -> String {
    if address.contains(':') {
        format!("[{address}]:{port}")
    } else {
        format!("{address}:{port}")
    }
}

// ---- views ------------------------------------------------------------------------

pub struct SystemLink {
    pub code: String,
    pub name: String,
    pub href: String,
    pub level: u8,
}

pub struct Head {
    pub hostname: String,
    pub id: String,
    pub unit_name: String,
    pub unit_code: String,
    pub unit_href: String,
    pub os: String,
    pub role: &'static str,
    pub agent_version: String,
    pub enrolled_at: String,
    pub last_seen: String,
    pub last_seq: String,
    pub revoked: bool,
    pub effective_level: u8,
    pub systems: Vec<SystemLink>,
}

pub struct Line {
    pub label: &'static str,
    pub value: String,
}

pub struct Group {
    pub title: &'static str,
    pub lines: Vec<Line>,
}

pub struct AvRow {
    pub name: String,
    pub detail: String,
    pub installed: Flag,
    pub running: Flag,
    pub realtime: Flag,
    pub signature: String,
    pub signature_age: String,
    pub last_scan: String,
}

pub struct BackendRow {
    pub name: String,
    pub active: Flag,
    pub input_policy: String,
    pub rules: String,
    pub default_deny: Flag,
}

pub struct InterfaceRow {
    pub name: String,
    pub kind: String,
    pub state: String,
    pub mac: String,
    pub addresses: Vec<String>,
}

pub struct RouteRow {
    pub family: &'static str,
    pub gateway: String,
    pub interface: String,
    pub metric: String,
}

pub struct ListenerRow {
    pub protocol: &'static str,
    pub address: String,
    pub process: String,
}

pub struct FactsSections {
    pub collected_at: String,
    pub av: Vec<AvRow>,
    pub fw: Group,
    pub backends: Vec<BackendRow>,
    pub interfaces: Vec<InterfaceRow>,
    pub routes: Vec<RouteRow>,
    pub dns: Group,
    pub listeners: Vec<ListenerRow>,
    pub hardening: Vec<Group>,
    pub errors: Vec<String>,
    pub packages: Group,
}

pub struct EvidenceView {
    pub check: String,
    pub observed: String,
    pub expected: String,
    pub message: Option<String>,
}

pub struct RequirementRow {
    pub id: String,
    pub title: String,
    pub verdict: Verdict,
    pub evidence: Vec<EvidenceView>,
}

pub struct ScopeView {
    pub anchor: String,
    pub heading: String,
    pub system_href: Option<String>,
    pub level: u8,
    pub framework: String,
    pub compliant: bool,
    pub evaluated_at: String,
    pub report_seq: i64,
    pub counts: Vec<(Verdict, String)>,
    pub note: Option<&'static str>,
    pub rows: Vec<RequirementRow>,
}

pub struct ChangeView {
    pub requirement: String,
    pub scope: String,
    pub old: Verdict,
    pub new: Verdict,
}

pub struct ReportRow {
    pub seq: i64,
    pub received_at: String,
    pub collected_at: String,
    pub current: bool,
    pub changes: Vec<ChangeView>,
}

#[derive(Template)]
#[template(path = "web/endpoint.html")]
struct EndpointPage {
    shell: Shell,
    x: &'static EndpointTexts,
    crumbs: Vec<Crumb>,
    head: Head,
    facts: Option<FactsSections>,
    scopes: Vec<ScopeView>,
    reports: Vec<ReportRow>,
}

fn facts_sections(f: &Facts, lang: Lang, now: i64) -> FactsSections {
    let x = texts(lang);
    let line = |label, value| Line { label, value };
    let num = |v: Option<i64>| number(lang, x, v);
    let av = f
        .antivirus
        .products
        .iter()
        .map(|p| AvRow {
            name: p.name.clone(),
            detail: [Some(p.vendor.clone()).filter(|v| !v.is_empty()), p.product_version.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
            installed: flag(x, Some(p.installed), true),
            running: flag(x, Some(p.running), true),
            realtime: flag(x, p.realtime, true),
            signature: p.signature_version.clone().unwrap_or_else(|| x.unknown.into()),
            signature_age: p
                .signature_time
                .map(|t| days(lang, x, age_days(now, t.unix_millis())))
                .unwrap_or_else(|| x.unknown.into()),
            last_scan: when(x, p.last_scan),
        })
        .collect();
    let fw = Group {
        title: x.sec_fw,
        lines: vec![
            line(x.fw_enabled, yes_no(x, Some(f.firewall.enabled))),
            line(x.fw_default_deny, yes_no(x, Some(f.firewall.inbound_default_deny))),
        ],
    };
    let backends = f
        .firewall
        .backends
        .iter()
        .map(|b| BackendRow {
            name: b.name.clone(),
            active: flag(x, Some(b.active), true),
            input_policy: b.input_policy.clone().unwrap_or_else(|| x.unknown.into()),
            rules: num(b.rules.map(i64::from)),
            default_deny: flag(x, b.inbound_default_deny, true),
        })
        .collect();
    let net = &f.network;
    let interfaces = net
        .interfaces
        .iter()
        .map(|i| InterfaceRow {
            name: i.name.clone(),
            kind: i.kind.clone(),
            state: match &i.oper_state {
                Some(s) => format!("{} ({s})", if i.up { x.up } else { x.down }),
                None => (if i.up { x.up } else { x.down }).to_string(),
            },
            mac: i.mac.clone().unwrap_or_default(),
            addresses: i.addresses.iter().map(|a| format!("{}/{}", a.address, a.prefix)).collect(),
        })
        .collect();
    let routes = net
        .default_routes
        .iter()
        .map(|r| RouteRow {
            family: family(r.family),
            gateway: r.gateway.clone().unwrap_or_else(|| x.on_link.into()),
            interface: r.interface.clone().unwrap_or_default(),
            metric: view::int(lang, i64::from(r.metric)),
        })
        .collect();
    let mut dns_lines = vec![line(x.resolvers, list(x, &net.dns.resolvers))];
    if !net.dns.upstream_resolvers.is_empty() {
        dns_lines.push(line(x.upstream, list(x, &net.dns.upstream_resolvers)));
    }
    dns_lines.push(line(x.search, list(x, &net.dns.search)));
    if let Some(e) = &net.egress {
        let result = if e.reachable {
            x.reachable.to_string()
        } else {
            format!("{} ({})", x.not_reachable, e.error.as_deref().unwrap_or(x.unknown))
        };
        dns_lines.push(line(x.egress, format!("{}: {result}", e.target)));
    }
    let dns = Group {
        title: x.dns,
        lines: dns_lines,
    };
    let listeners = net
        .listening
        .iter()
        .map(|l| ListenerRow {
            protocol: match l.protocol {
                Protocol::Tcp => "TCP",
                Protocol::Udp => "UDP",
            },
            address: host_port(&l.address, l.port),
            process: match (&l.process, l.pid) {
                (Some(p), Some(pid)) => format!("{p} ({pid})"),
                (Some(p), None) => p.clone(),
                (None, Some(pid)) => pid.to_string(),
                (None, None) => x.unknown.into(),
            },
        })
        .collect();
    let pp = &f.password_policy;
    let lo = &f.lockout;
    let acc = &f.accounts;
    let ssh = &f.ssh;
    let pk = &f.packages;
    let hardening = vec![
        Group {
            title: x.g_password,
            lines: vec![
                line(x.min_length, num(pp.min_length.map(i64::from))),
                line(x.min_classes, num(pp.min_classes.map(i64::from))),
                line(
                    x.max_days,
                    pp.max_days.map(|d| days(lang, x, d)).unwrap_or_else(|| x.unknown.into()),
                ),
                line(x.history, num(pp.history.map(i64::from))),
                line(x.hash_method, pp.hash_method.clone().unwrap_or_else(|| x.unknown.into())),
                line(
                    x.lockout_after,
                    match (&lo.module, lo.deny) {
                        (None, _) => x.no.into(),
                        (Some(_), d) => num(d.map(i64::from)),
                    },
                ),
                line(x.unlock_after, seconds(lang, x, lo.unlock_time_seconds)),
            ],
        },
        Group {
            title: x.g_accounts,
            lines: vec![
                line(
                    x.local_accounts,
                    view::int(lang, i64::try_from(acc.local.len()).unwrap_or(i64::MAX)),
                ),
                line(x.admins, list(x, &acc.admins)),
                line(x.uid0, list(x, &acc.uid0)),
                line(x.root_locked, yes_no(x, acc.root_locked)),
                line(x.autologin, list(x, &acc.autologin)),
                line(x.mfa, list(x, &f.mfa.modules)),
            ],
        },
        Group {
            title: x.g_session,
            lines: vec![
                line(x.shell_timeout, seconds(lang, x, f.session.shell_timeout_seconds)),
                line(
                    x.screen_lock,
                    yes_no(x, f.desktop.installed.then_some(f.desktop.lock_enabled).flatten()),
                ),
                line(x.idle_delay, seconds(lang, x, f.desktop.idle_delay_seconds)),
            ],
        },
        Group {
            title: x.g_ssh,
            lines: if ssh.installed {
                vec![
                    line(x.ssh_running, yes_no(x, Some(ssh.running))),
                    line(x.ssh_ports, list(x, &ssh.ports.iter().map(u16::to_string).collect::<Vec<_>>())),
                    line(x.permit_root, ssh.permit_root_login.clone().unwrap_or_else(|| x.unknown.into())),
                    line(x.password_auth, yes_no(x, ssh.password_authentication)),
                    line(x.max_auth_tries, num(ssh.max_auth_tries.map(i64::from))),
                ]
            } else {
                vec![line(x.installed, x.no.into())]
            },
        },
        Group {
            title: x.g_updates,
            lines: vec![
                line(x.pending_updates, num(pk.pending_updates.map(i64::from))),
                line(x.pending_security, num(pk.pending_security.map(i64::from))),
                line(x.auto_updates, yes_no(x, pk.auto_updates)),
                line(x.reboot_required, yes_no(x, pk.reboot_required)),
                line(x.last_update, when(x, pk.last_update)),
            ],
        },
        Group {
            title: x.g_logs,
            lines: vec![
                line(x.auditd, yes_no(x, Some(f.audit.running))),
                line(x.log_forwarding, yes_no(x, Some(f.logging.forwarding))),
                line(
                    x.log_retention,
                    f.logging
                        .local_retention_days
                        .map(|d| days(lang, x, i64::try_from(d).unwrap_or(i64::MAX)))
                        .unwrap_or_else(|| x.unknown.into()),
                ),
                line(x.time_sync, yes_no(x, f.time_sync.synchronized)),
                line(x.time_servers, list(x, &f.time_sync.servers)),
            ],
        },
        Group {
            title: x.g_system,
            lines: vec![
                line(x.root_encrypted, yes_no(x, f.disk_encryption.root_encrypted)),
                line(x.all_encrypted, yes_no(x, f.disk_encryption.all_encrypted)),
                line(x.usb_blocked, yes_no(x, Some(f.usb_storage.blocked))),
                line(x.aslr, num(f.hardening.randomize_va_space.map(i64::from))),
                line(
                    x.mac_kind,
                    match (&f.hardening.mac.kind, &f.hardening.mac.mode) {
                        (Some(k), Some(m)) => format!("{k} ({m})"),
                        (Some(k), None) => k.clone(),
                        (None, _) => x.none.into(),
                    },
                ),
                line(
                    x.directory,
                    if f.directory.joined {
                        format!("{} ({})", x.yes, list(x, &f.directory.domains))
                    } else {
                        x.no.into()
                    },
                ),
            ],
        },
    ];
    let errors = f.errors.iter().map(|e| format!("{}: {}", e.probe, e.message)).collect();
    let packages = Group {
        title: x.sec_packages,
        lines: vec![
            line(x.package_count, view::int(lang, i64::from(pk.count))),
            line(x.package_manager, pk.manager.clone().unwrap_or_else(|| x.unknown.into())),
        ],
    };
    FactsSections {
        collected_at: view::datetime(f.collected_at),
        av,
        fw,
        backends,
        interfaces,
        routes,
        dns,
        listeners,
        hardening,
        errors,
        packages,
    }
}

/// A requirement's rows in the order the page lists them: failing first, then catalogue order.
fn requirement_rows(
    e: &EvaluationRow,
    results: Option<&[CheckResult]>,
    fw: Option<&khien_policy::Framework>,
    lang: Lang,
) -> Vec<RequirementRow> {
    let x = texts(lang);
    let plang = if lang.english() {
        khien_policy::Lang::En
    } else {
        khien_policy::Lang::Vi
    };
    let position = |id: &str| {
        fw.and_then(|f| f.requirements.iter().position(|r| r.id == id))
            .unwrap_or(usize::MAX)
    };
    let mut rows: Vec<(u8, usize, RequirementRow)> = e
        .requirements
        .iter()
        .map(|(id, status)| {
            let status = view::parse_status(status);
            let evidence = if status.is_some_and(Status::is_problem) {
                results
                    .unwrap_or_default()
                    .iter()
                    .filter(|r| r.requirement == *id && r.status.is_problem())
                    .map(|r| EvidenceView {
                        check: r.check.clone(),
                        observed: khien_evidence::view::observed_shown(&r.evidence.observed).0,
                        expected: r.evidence.expected.clone(),
                        message: r.message.clone(),
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let row = RequirementRow {
                id: id.clone(),
                title: fw
                    .and_then(|f| f.requirement(id))
                    .map(|r| r.title.get(plang).to_string())
                    .unwrap_or_default(),
                verdict: verdict(x, status),
                evidence,
            };
            (view::status_rank(status), position(id), row)
        })
        .collect();
    rows.sort_by(|a, b| (a.0, a.1, &a.2.id).cmp(&(b.0, b.1, &b.2.id)));
    rows.into_iter().map(|(_, _, r)| r).collect()
}

fn scope_view(i: usize, e: &EvaluationRow, results: Option<&[CheckResult]>, detail: &EndpointDetail, app: &App, lang: Lang) -> ScopeView {
    let x = texts(lang);
    let fw = app.ingest.policies().framework(&e.framework).map(|f| &**f);
    let (heading, system_href) = if e.scope.is_empty() {
        (x.default_scope.to_string(), None)
    } else {
        let name = detail
            .memberships
            .iter()
            .find(|m| m.system.code == e.scope)
            .map(|m| format!(" — {}", m.system.name))
            .unwrap_or_default();
        (
            format!("{} {}{name}", x.system, e.scope),
            Some(format!("/systems/{}{}", view::query_value(&e.scope), lang.query())),
        )
    };
    let counts = [Status::Fail, Status::Error, Status::Manual, Status::Pass, Status::NotApplicable]
        .into_iter()
        .zip([1, 2, 4, 0, 3])
        .map(|(s, i)| (verdict(x, Some(s)), view::int(lang, e.counts[i])))
        .collect();
    let note = if fw.is_none() {
        Some(x.framework_missing)
    } else if results.is_none() {
        Some(x.no_evidence)
    } else {
        None
    };
    ScopeView {
        anchor: format!("scope-{i}"),
        heading,
        system_href,
        level: e.level,
        framework: match fw {
            Some(f) => format!(
                "{} ({})",
                f.title.get(if lang.english() {
                    khien_policy::Lang::En
                } else {
                    khien_policy::Lang::Vi
                }),
                f.id
            ),
            None => e.framework.clone(),
        },
        compliant: e.compliant,
        evaluated_at: view::datetime_ms(e.evaluated_at),
        report_seq: e.report_seq,
        counts,
        note,
        rows: requirement_rows(e, results, fw, lang),
    }
}

async fn report_history(app: &App, row: &EndpointRow, lang: Lang, now: i64) -> Result<Vec<ReportRow>, StoreError> {
    let x = texts(lang);
    let stored = sqlx::query("SELECT seq, received_at, collected_at FROM reports WHERE endpoint_id = $1 ORDER BY seq DESC LIMIT $2")
        .bind(&row.id)
        .bind(HISTORY)
        .fetch_all(app.store.pool())
        .await?;
    let mut reports = stored
        .iter()
        .map(|r| {
            let seq: i64 = r.try_get("seq")?;
            let received: i64 = r.try_get("received_at")?;
            let collected: i64 = r.try_get("collected_at")?;
            Ok((seq, received, collected))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let Some(&(_, oldest, _)) = reports.iter().min_by_key(|r| r.1) else {
        return Ok(Vec::new());
    };
    // Changes made by re-evaluations (register changes) are not a report's doing.
    let mut by_seq: BTreeMap<i64, Vec<ChangeView>> = BTreeMap::new();
    let from = scorecard::vietnam_today(oldest);
    let to = scorecard::vietnam_today(now);
    for c in history::verdict_changes(&app.store, Subject::Endpoint(&row.id), from, to, CHANGES).await? {
        if c.cause == "report" {
            by_seq.entry(c.report_seq).or_default().push(ChangeView {
                requirement: c.requirement,
                scope: if c.scope.is_empty() { x.default_short.into() } else { c.scope },
                old: verdict(x, view::parse_status(&c.old)),
                new: verdict(x, view::parse_status(&c.new)),
            });
        }
    }
    reports.sort_by_key(|r| std::cmp::Reverse(r.0));
    Ok(reports
        .into_iter()
        .map(|(seq, received, collected)| ReportRow {
            seq,
            received_at: view::datetime_ms(received),
            collected_at: view::datetime_ms(collected),
            current: seq == row.facts_seq,
            changes: by_seq.remove(&seq).unwrap_or_default(),
        })
        .collect())
}

pub async fn page(State(app): State<Arc<App>>, Path(id): Path<String>, uri: Uri, headers: HeaderMap) -> Response {
    let lang = Lang::of(&uri);
    let session = match require_session(&app, &headers, lang).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let x = texts(lang);
    let t = lang.texts();
    let path = format!("/endpoints/{}", view::query_value(&id));
    let (row, unit_path) = match app.store.endpoint(&id).await {
        Ok(Some(found)) => found,
        Ok(None) => return notice_text(StatusCode::NOT_FOUND, lang, &session, &path, |t| t.not_found_title, x.no_endpoint),
        Err(e) => return unavailable(lang, &e),
    };
    if let Err(e) = session.principal.check(&unit_path, &format!("endpoint {id}")) {
        tracing::info!(actor = %session.principal.actor, refused = %e, "Dashboard page refused.");
        return notice_text(
            StatusCode::FORBIDDEN,
            lang,
            &session,
            &path,
            |t| t.forbidden_title,
            x.endpoint_forbidden,
        );
    }
    let now = super::now();
    let built = async {
        let detail = api::endpoint_detail(&app.store, app.ingest.policies(), &row).await?;
        let unit = app.store.org_unit(&row.org_unit).await?;
        let enrolled: i64 = sqlx::query_scalar("SELECT enrolled_at FROM endpoints WHERE id = $1")
            .bind(&row.id)
            .fetch_one(app.store.pool())
            .await?;
        let leaf = Crumb {
            name: row.hostname.clone(),
            href: None,
        };
        let crumbs = crumbs_in(&app, &session, unit.as_ref(), lang, leaf).await?;
        let reports = report_history(&app, &row, lang, now).await?;
        Ok::<_, StoreError>((detail, unit, enrolled, crumbs, reports))
    }
    .await;
    let (detail, unit, enrolled, crumbs, reports) = match built {
        Ok(b) => b,
        Err(e) => return unavailable(lang, &e),
    };
    let facts = detail.facts();
    let head = Head {
        hostname: row.hostname.clone(),
        id: row.id.clone(),
        unit_name: unit.as_ref().map(|u| u.name.clone()).unwrap_or_default(),
        unit_code: row.org_unit.clone(),
        unit_href: format!("/org-units/{}{}", view::query_value(&row.org_unit), lang.query()),
        os: facts.map(os_text).unwrap_or_else(|| x.unknown.into()),
        role: if row.role == "server" { x.server } else { x.workstation },
        agent_version: detail
            .parsed
            .as_ref()
            .map(|r| r.agent_version.clone())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| x.unknown.into()),
        enrolled_at: view::datetime_ms(enrolled),
        last_seen: Timestamp::from_unix_millis(row.last_seen)
            .filter(|_| row.last_seen > 0)
            .map(view::datetime)
            .unwrap_or_else(|| t.never.into()),
        last_seq: view::int(lang, row.last_seq),
        revoked: row.revoked,
        effective_level: row.effective_level,
        systems: detail
            .memberships
            .iter()
            .map(|m| SystemLink {
                href: format!("/systems/{}{}", view::query_value(&m.system.code), lang.query()),
                code: m.system.code.clone(),
                name: m.system.name.clone(),
                level: m.system.level,
            })
            .collect(),
    };
    let scopes = detail
        .evaluations
        .iter()
        .enumerate()
        .map(|(i, (e, results))| scope_view(i, e, results.as_deref(), &detail, &app, lang))
        .collect();
    let page = EndpointPage {
        shell: Shell::new(lang, &path, |t| t.hostname, Some(&session)),
        x,
        crumbs,
        facts: facts.map(|f| facts_sections(f, lang, now)),
        head,
        scopes,
        reports,
    };
    html(StatusCode::OK, &page)
}

#[cfg(test)]
mod tests {
    use super::*;
    use khien_proto::Evidence;

    #[test]
    fn web_endpoint_ages_and_durations() {
        let x = texts(Lang::Vi);
        assert_eq!(age_days(10 * DAY_MS + 5, 5), 10);
        assert_eq!(age_days(DAY_MS - 1, 0), 0);
        assert_eq!(age_days(0, DAY_MS), 0, "a signature from the future is not negative days old");
        assert_eq!(days(Lang::Vi, x, 1_234), "1.234 ngày");
        assert_eq!(days(Lang::En, texts(Lang::En), 1), "1 day");
        assert_eq!(days(Lang::En, texts(Lang::En), 2), "2 days");
        assert_eq!(duration(Lang::Vi, x, 900), "15 phút");
        assert_eq!(duration(Lang::Vi, x, 7200), "2 giờ");
        assert_eq!(duration(Lang::Vi, x, 86_400 * 3), "3 ngày");
        assert_eq!(duration(Lang::Vi, x, 90), "90 giây");
        assert_eq!(duration(Lang::En, texts(Lang::En), 0), "0 s");
        assert_eq!(seconds(Lang::Vi, x, None), "Không rõ");
    }

    #[test]
    fn web_endpoint_flags_and_verdicts() {
        let x = texts(Lang::Vi);
        let f = flag(x, Some(false), true);
        assert_eq!((f.text.as_str(), f.tone), ("Không", "poor"));
        let f = flag(x, None, true);
        assert_eq!((f.text.as_str(), f.tone), ("Không rõ", "none"));
        for s in Status::ALL {
            assert_eq!(view::parse_status(s.as_str()), Some(s));
            let v = verdict(x, Some(s));
            assert_eq!(v.status, s.as_str());
            assert!(!v.label.is_empty(), "a verdict always has words, never a colour alone");
        }
        assert_eq!(verdict(texts(Lang::En), Some(Status::NotApplicable)).label, "Not applicable");
        assert_eq!(view::parse_status("nope"), None);
        let mut order: Vec<Option<Status>> = Status::ALL.into_iter().map(Some).collect();
        order.sort_by_key(|s| view::status_rank(*s));
        assert_eq!(&order[..2], [Some(Status::Fail), Some(Status::Error)]);
    }

    #[test]
    fn web_endpoint_text_helpers() {
        // The evidence pack's rendering of observed values, cut for the page.
        use khien_evidence::view::{OBSERVED_MAX_CHARS, observed_shown};
        assert_eq!(observed_shown(&serde_json::json!({"a": [1, 2]})).0, r#"{"a": [1, 2]}"#);
        let (long, cut) = observed_shown(&serde_json::Value::String("é".repeat(OBSERVED_MAX_CHARS + 5)));
        assert!(cut && long.ends_with('…'));
        assert_eq!(long.chars().count(), OBSERVED_MAX_CHARS + 1);
        assert_eq!(host_port("0.0.0.0", 22), "0.0.0.0:22");
        assert_eq!(host_port("::", 443), "[::]:443");
        let mut f = Facts::default();
        assert_eq!(os_text(&f), "linux");
        f.host.os.pretty_name = Some("Debian GNU/Linux 12 (bookworm)".into());
        f.host.arch = "x86_64".into();
        assert_eq!(os_text(&f), "Debian GNU/Linux 12 (bookworm) · x86_64");
    }

    #[test]
    fn web_endpoint_page_renders_every_section() {
        use khien_proto::facts::{Address, FirewallBackend, Interface, Listener, ProbeError, Route};
        let mut f = Facts::default();
        f.host.hostname = "pc-<1>".into();
        f.firewall.backends.push(FirewallBackend {
            name: "nftables".into(),
            active: true,
            input_policy: Some("drop".into()),
            rules: Some(1234),
            inbound_default_deny: Some(true),
            ..Default::default()
        });
        f.network.interfaces.push(Interface {
            name: "eth0".into(),
            up: true,
            oper_state: Some("up".into()),
            addresses: vec![Address {
                family: IpFamily::Ipv4,
                address: "10.1.2.3".into(),
                prefix: 24,
            }],
            ..Default::default()
        });
        f.network.default_routes.push(Route {
            gateway: Some("10.1.2.1".into()),
            interface: Some("eth0".into()),
            ..Default::default()
        });
        f.network.listening.push(Listener {
            family: IpFamily::Ipv6,
            address: "::".into(),
            port: 22,
            pid: Some(812),
            process: Some("sshd".into()),
            ..Default::default()
        });
        f.ssh.installed = true;
        f.ssh.ports = vec![22];
        f.errors.push(ProbeError {
            probe: "accounts".into(),
            message: "shadow unreadable".into(),
        });
        for lang in [Lang::Vi, Lang::En] {
            let x = texts(lang);
            let page = EndpointPage {
                shell: Shell::new(lang, "/endpoints/e1", |t| t.hostname, None),
                x,
                crumbs: Vec::new(),
                head: Head {
                    hostname: f.host.hostname.clone(),
                    id: "e1".into(),
                    unit_name: "Xã".into(),
                    unit_code: "X".into(),
                    unit_href: "/org-units/X".into(),
                    os: os_text(&f),
                    role: x.workstation,
                    agent_version: "1.0".into(),
                    enrolled_at: String::new(),
                    last_seen: String::new(),
                    last_seq: "1".into(),
                    revoked: true,
                    effective_level: 2,
                    systems: Vec::new(),
                },
                facts: Some(facts_sections(&f, lang, 0)),
                scopes: Vec::new(),
                reports: Vec::new(),
            }
            .render()
            .unwrap();
            assert!(!page.contains("style="), "the CSP forbids inline styles");
            assert!(!page.contains("pc-<1>"), "escaped");
            for text in [
                "nftables",
                "1.234",
                "10.1.2.3/24",
                "10.1.2.1",
                "[::]:22",
                "sshd (812)",
                "accounts: shadow unreadable",
                x.revoked,
            ] {
                let text = if lang.english() {
                    text.replace("1.234", "1,234")
                } else {
                    text.to_string()
                };
                assert!(page.contains(&text), "{text} in {page}");
            }
            for table in page.split("<table").skip(1) {
                assert!(table.contains("<caption") && table.contains("<th scope=\"col\">"), "{table}");
            }
            assert_eq!(page.matches("<section").count(), page.matches("<h2").count());
        }
    }

    #[test]
    fn web_endpoint_failing_requirements_first_with_evidence() {
        let e = EvaluationRow {
            scope: String::new(),
            framework: "none".into(),
            level: 2,
            policy_digest: String::new(),
            report_seq: 1,
            evaluated_at: 0,
            compliant: false,
            counts: [1, 1, 0, 1, 0],
            requirements: [("A", "pass"), ("B", "not_applicable"), ("C", "fail")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let check = |req: &str, status| CheckResult {
            requirement: req.into(),
            check: format!("{req}/x"),
            status,
            evidence: Evidence {
                observed: serde_json::json!(false),
                expected: "true".into(),
            },
            message: None,
        };
        let results = [check("A", Status::Pass), check("C", Status::Fail), check("C", Status::Pass)];
        let rows = requirement_rows(&e, Some(&results), None, Lang::Vi);
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["C", "A", "B"]);
        assert_eq!(rows[0].verdict.label, "Không đạt");
        assert_eq!(rows[0].evidence.len(), 1, "only the failing check's evidence");
        assert_eq!(
            (rows[0].evidence[0].observed.as_str(), rows[0].evidence[0].expected.as_str()),
            ("false", "true")
        );
        assert!(rows[1].evidence.is_empty());
    }
}
