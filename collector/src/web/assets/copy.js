// Copy buttons: `button.copy[data-copy-target=ID]` puts the text of #ID on
// the clipboard. The buttons are `hidden` in the HTML and shown here, so that
// without script there is no button that does nothing: the text stays
// selectable, and copied by hand. The page's CSP forbids inline scripts,
// hence this file.
(function () {
  "use strict";

  function selectText(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  function announce(button, ok) {
    var status = document.querySelector(".copy-status");
    if (status && ok) {
      status.textContent = button.getAttribute("data-copied") || "";
    }
  }

  function copy(button) {
    var el = document.getElementById(button.getAttribute("data-copy-target"));
    if (!el) {
      return;
    }
    var text = el.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { announce(button, true); },
        function () { selectText(el); }
      );
      return;
    }
    // Older browsers: copy the selection; if that fails the text stays selected.
    selectText(el);
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    announce(button, ok);
  }

  function init() {
    var buttons = document.querySelectorAll("button.copy[data-copy-target]");
    for (var i = 0; i < buttons.length; i++) {
      var b = buttons[i];
      b.hidden = false;
      b.addEventListener("click", function (ev) { copy(ev.currentTarget); });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
