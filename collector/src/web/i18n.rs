//! The dashboard's words, Vietnamese first. Pages take `?lang=en` for English.

use axum::http::Uri;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Vi,
    En,
}

impl Lang {
    /// `?lang=en` anywhere in the query; Vietnamese otherwise.
    pub fn of(uri: &Uri) -> Lang {
        let en = uri
            .query()
            .unwrap_or_default()
            .split('&')
            .any(|kv| kv.eq_ignore_ascii_case("lang=en"));
        if en { Lang::En } else { Lang::Vi }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// What links and redirects append to keep the language.
    pub fn query(self) -> &'static str {
        match self {
            Lang::Vi => "",
            Lang::En => "?lang=en",
        }
    }

    pub fn english(self) -> bool {
        self == Lang::En
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Vi => &VI,
            Lang::En => &EN,
        }
    }
}

pub struct Texts {
    pub product: &'static str,
    pub tagline: &'static str,
    pub skip: &'static str,
    pub other_lang: &'static str,
    pub login_title: &'static str,
    pub login_intro: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub log_in: &'static str,
    pub log_out: &'static str,
    pub wrong_login: &'static str,
    pub locked: &'static str,
    pub overview: &'static str,
    pub signed_in_as: &'static str,
    pub role: &'static str,
    pub scope: &'static str,
    pub whole_tree: &'static str,
    pub overview_soon: &'static str,
    pub forbidden_title: &'static str,
    pub csrf_refused: &'static str,
    pub unavailable_title: &'static str,
    pub unavailable: &'static str,
    pub back_to_login: &'static str,
}

static VI: Texts = Texts {
    product: "Khiên",
    tagline: "Giám sát an toàn thông tin các cơ quan đảng",
    skip: "Chuyển đến nội dung chính",
    other_lang: "English",
    login_title: "Đăng nhập",
    login_intro: "Đăng nhập bằng tài khoản do quản trị viên cấp.",
    username: "Tên đăng nhập",
    password: "Mật khẩu",
    log_in: "Đăng nhập",
    log_out: "Đăng xuất",
    wrong_login: "Tên đăng nhập hoặc mật khẩu không đúng.",
    locked: "Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau 15 phút.",
    overview: "Tổng quan",
    signed_in_as: "Người dùng",
    role: "Vai trò",
    scope: "Phạm vi",
    whole_tree: "Toàn bộ hệ thống",
    overview_soon: "Các chỉ số của đơn vị sẽ được hiển thị tại đây.",
    forbidden_title: "Yêu cầu bị từ chối",
    csrf_refused: "Biểu mẫu đã hết hạn hoặc không hợp lệ. Vui lòng tải lại trang và thử lại.",
    unavailable_title: "Tạm thời không truy cập được",
    unavailable: "Cơ sở dữ liệu không phản hồi. Vui lòng thử lại sau ít phút.",
    back_to_login: "Về trang đăng nhập",
};

static EN: Texts = Texts {
    product: "Khiên",
    tagline: "Security monitoring for Party offices",
    skip: "Skip to main content",
    other_lang: "Tiếng Việt",
    login_title: "Log in",
    login_intro: "Log in with the account your administrator gave you.",
    username: "Username",
    password: "Password",
    log_in: "Log in",
    log_out: "Log out",
    wrong_login: "Wrong username or password.",
    locked: "Too many failed logins. Try again in 15 minutes.",
    overview: "Overview",
    signed_in_as: "User",
    role: "Role",
    scope: "Scope",
    whole_tree: "The whole organisation",
    overview_soon: "Your units' figures will appear here.",
    forbidden_title: "Request refused",
    csrf_refused: "The form has expired or is not valid. Reload the page and try again.",
    unavailable_title: "Temporarily unavailable",
    unavailable: "The database does not answer. Try again in a few minutes.",
    back_to_login: "Back to the login page",
};
