// Callem Studio dashboard behaviour: dialogs, menus, toasts, copy, small helpers.
// No inline scripts: the Content-Security-Policy allows only this file and htmx.
(function () {
  "use strict";
  // htmx 2 swaps no 4xx/5xx by default. A dashboard failure answers an htmx request with the
  // server's message as a toast, retargeted to #toasts (see src/web/error.rs), so those are
  // swapped; a 422 is a form sent back with its messages, swapped where it was asked for.
  if (window.htmx) {
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "422", swap: true },
      { code: "[45]..", swap: true, error: true },
      { code: "...", swap: false }
    ];
  }
  // Modals are native <dialog>s swapped into #modal-root and opened with showModal(): the
  // browser keeps the focus inside, makes the page behind inert and turns Escape into a
  // `cancel` event. This script only picks where the focus starts and returns, and keeps the
  // one-time key panel ([data-static]) from being closed by anything but its Done button.
  var modalRoot = function () { return document.getElementById("modal-root"); };
  var opener = null;

  function openDialog() {
    return document.querySelector("#modal-root dialog[open]");
  }

  // The toast region follows the open dialog: outside it, the page is inert and hidden from
  // assistive technology, and a toast would sit under the backdrop.
  function toastsInto(parent) {
    var region = document.getElementById("toasts");
    if (region && region.parentNode !== parent) parent.appendChild(region);
  }

  function closeMenus() {
    document.querySelectorAll("details.menu[open]").forEach(function (d) { d.open = false; });
  }

  function showDialog(dialog) {
    closeMenus();
    if (!dialog.open) dialog.showModal();
    toastsInto(dialog);
  }

  // Once settled (htmx puts the focus back on a field with the same id before that): the
  // first field to fix, or the one the dialog names.
  function focusDialog(dialog) {
    var target = dialog.querySelector("[aria-invalid=true]") || dialog.querySelector("[data-autofocus]");
    if (target) target.focus();
  }

  // After a dialog closed, or after a swap left #modal-root without one (the revoke's answer).
  function dialogGone() {
    toastsInto(document.body);
    var root = modalRoot();
    if (root && !root.querySelector("dialog")) root.innerHTML = "";
    var back = opener && opener.isConnected ? opener : document.querySelector("[data-testid=create-key]") || document.getElementById("main");
    if (back) back.focus();
    opener = null;
  }

  // Escape or a click beside a panel that must not be lost: say how to close it instead.
  function holdStatic(dialog) {
    var hint = dialog.querySelector("[data-static-hint]");
    if (hint) hint.hidden = false;
    var done = dialog.querySelector("[data-close-modal]");
    if (done) done.focus();
  }

  document.addEventListener("cancel", function (e) {
    var d = e.target;
    if (d.matches && d.matches("#modal-root dialog[data-static]")) { e.preventDefault(); holdStatic(d); }
  }, true);

  document.addEventListener("close", function (e) {
    var d = e.target;
    if (!d.matches || !d.matches("#modal-root dialog") || !d.isConnected) return;
    // Chromium closes a dialog without a cancelable `cancel` on a second Escape with no click
    // in between: the one-time key comes back rather than being lost.
    if (d.hasAttribute("data-static") && d.returnValue !== "done") { d.showModal(); holdStatic(d); return; }
    toastsInto(document.body);
    d.remove();
    dialogGone();
  }, true);

  document.addEventListener("htmx:beforeRequest", function (e) {
    var t = e.detail && e.detail.target;
    if (t && t.id === "modal-root" && !openDialog()) {
      opener = document.activeElement;
      var menu = opener && opener.closest("details.menu");
      if (menu) opener = menu.querySelector("summary");
    }
  });

  // The dialog about to be replaced (a form sent back with its messages) lets go of the toasts.
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail && e.detail.target && e.detail.target.id === "modal-root") toastsInto(document.body);
  });

  document.addEventListener("htmx:afterSettle", function (e) {
    var t = e.detail && e.detail.target;
    var dialog = t && t.id === "modal-root" && t.querySelector("dialog[open]");
    if (dialog) focusDialog(dialog);
  });

  document.addEventListener("htmx:afterSwap", function (e) {
    var t = e.detail && e.detail.target;
    if (!t) return;
    if (t.id === "modal-root") {
      var dialog = t.querySelector("dialog");
      if (dialog) showDialog(dialog); else dialogGone();
    } else if (t.id === "toasts" && !openDialog()) {
      // An action from a menu failed: the menu closes, the focus goes back to its button.
      var menu = document.activeElement && document.activeElement.closest("details.menu[open]");
      closeMenus();
      if (menu) menu.querySelector("summary").focus();
    }
  });

  // A change's confirmation: now, or after the redirect htmx is about to follow.
  // (beforeOnLoad: htmx handles HX-Redirect before any later event.)
  document.addEventListener("htmx:beforeOnLoad", function (e) {
    var xhr = e.detail && e.detail.xhr;
    var raw = xhr && xhr.getResponseHeader("X-Callem-Toast");
    if (!raw || xhr.status < 200 || xhr.status >= 300) return;
    var msg;
    try { msg = decodeURIComponent(raw.replace(/\+/g, " ")); } catch (_) { return; }
    if (xhr.getResponseHeader("HX-Redirect")) {
      try { sessionStorage.setItem("callem:toast", msg); } catch (_) {}
    } else {
      toast(msg);
    }
  });

  // Menus float above everything (position: fixed from the button's place), so a table's
  // scroll box cannot clip them; near the bottom of the window they open upwards.
  function placeMenu(d) {
    var list = d.querySelector(".menu-list");
    var button = d.querySelector("summary");
    if (!list || !button) return;
    list.classList.add("menu-floating");
    var r = button.getBoundingClientRect();
    var w = list.offsetWidth, h = list.offsetHeight;
    var left = Math.min(Math.max(8, r.right - w), window.innerWidth - w - 8);
    var below = r.bottom + 4, above = r.top - 4 - h;
    var up = below + h > window.innerHeight - 8 && above >= 8;
    list.classList.toggle("menu-up", up);
    list.style.left = left + "px";
    list.style.top = (up ? above : below) + "px";
  }

  function placeOpenMenus() {
    document.querySelectorAll("details.menu[open]").forEach(placeMenu);
  }
  window.addEventListener("resize", placeOpenMenus);
  window.addEventListener("scroll", placeOpenMenus, true);

  // Toasts live in one live region that is in the page from the start (layouts/app.html), so
  // screen readers announce them (a region added together with its text is often missed).
  // Each goes away after a while: those made here, and the server's error toasts.
  var TOAST_MS = 6000, ERROR_TOAST_MS = 10000;
  function expire(el) {
    setTimeout(function () { el.remove(); }, el.classList.contains("toast-error") ? ERROR_TOAST_MS : TOAST_MS);
  }

  function toast(msg) {
    var region = document.getElementById("toasts");
    if (!region) return;
    var el = document.createElement("div");
    el.className = "toast";
    el.textContent = msg;
    region.appendChild(el);
    expire(el);
  }

  document.addEventListener("htmx:load", function (e) {
    var el = e.detail && e.detail.elt;
    if (el && el.matches && el.matches("#toasts [data-toast]")) expire(el);
  });

  document.addEventListener("keydown", function (e) {
    if (openDialog()) return;
    if (e.key === "Escape") {
      var open = document.querySelector("details.menu[open]");
      if (open) { open.open = false; open.querySelector("summary").focus(); }
    }
    if ((e.key === "ArrowDown" || e.key === "ArrowUp") && document.activeElement && document.activeElement.closest("details.menu[open]")) {
      // Down and Up move through the items (wrapping); from the button, to the first or last.
      var items = Array.prototype.slice.call(document.activeElement.closest("details.menu").querySelectorAll("[role=menuitem]"));
      if (items.length) {
        e.preventDefault();
        var at = items.indexOf(document.activeElement), step = e.key === "ArrowDown" ? 1 : -1;
        var next = at < 0 ? (step > 0 ? 0 : items.length - 1) : (at + step + items.length) % items.length;
        items[next].focus();
      }
    }
  });

  document.addEventListener("click", function (e) {
    var t = e.target;
    var closer = t.closest("[data-close-modal]");
    if (closer) { var d = closer.closest("dialog"); if (d) d.close("done"); return; }
    // A click on the backdrop reaches the dialog itself, outside its box.
    if (t.matches("#modal-root dialog[open]")) {
      var r = t.getBoundingClientRect();
      var outside = e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom;
      if (outside) { if (t.hasAttribute("data-static")) holdStatic(t); else t.close(); }
      return;
    }
    var copy = t.closest("[data-copy]");
    if (copy) { copyText(copy); return; }
    document.querySelectorAll("details.menu[open]").forEach(function (d) { if (!d.contains(t)) d.open = false; });
  });

  document.addEventListener("toggle", function (e) {
    var d = e.target;
    if (d.matches && d.matches("details.menu") && d.open) {
      document.querySelectorAll("details.menu[open]").forEach(function (o) { if (o !== d) o.open = false; });
      placeMenu(d);
    }
    if (d.matches && d.matches("details[data-dismissible]")) {
      try { localStorage.setItem("callem:" + d.dataset.dismissible, d.open ? "open" : "closed"); } catch (_) {}
    }
  }, true);

  function copyText(button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.textContent.trim();
    var done = function () {
      var label = button.querySelector("[data-copy-label]") || button;
      label.textContent = "Copied";
      button.classList.add("copied");
      setTimeout(function () { label.textContent = "Copy"; button.classList.remove("copied"); }, 2500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(source); done(); });
    } else { fallbackCopy(source); done(); }
  }

  function fallbackCopy(source) {
    var range = document.createRange();
    range.selectNodeContents(source);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    try { document.execCommand("copy"); } catch (_) {}
  }

  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t.matches("[data-navigate]")) { window.location.href = t.value; }
    // A select or a radio group whose "custom" choice reveals the element it names. The focus
    // moves into it from a select; a radio keeps it, so the arrow keys still walk the group.
    var toggle = t.getAttribute && t.getAttribute("data-toggle-custom");
    if (toggle) {
      var target = document.getElementById(toggle);
      if (target) {
        target.hidden = t.value !== "custom";
        if (!target.hidden && t.type !== "radio") target.focus();
      }
    }
  });

  // The first-run checklist remembers what this browser has done (reading the API
  // reference); the rest it reads from the project's data.
  function markDoneSteps(root) {
    (root || document).querySelectorAll("[data-done-when]").forEach(function (li) {
      var done = false;
      try { done = localStorage.getItem(li.getAttribute("data-done-when")) === "yes"; } catch (_) {}
      if (!done) return;
      li.classList.add("done");
      var mark = li.querySelector(".step-mark");
      if (mark) mark.textContent = "✓";
      var label = li.querySelector("[data-done-label]");
      if (label) label.hidden = false;
    });
  }
  document.addEventListener("htmx:afterSettle", function (e) { markDoneSteps(e.detail && e.detail.elt); });
  // Back from the reference: the page may come from the back/forward cache or htmx's history.
  window.addEventListener("pageshow", function () { markDoneSteps(document); });
  document.addEventListener("htmx:historyRestore", function () { markDoneSteps(document); });

  document.addEventListener("DOMContentLoaded", function () {
    if (location.pathname === "/docs/api") {
      try { localStorage.setItem("callem:read-api-docs", "yes"); } catch (_) {}
    }
    markDoneSteps(document);
    // A message the server left for this page (after a plain form's POST) goes like the rest.
    document.querySelectorAll("#toasts [data-toast]").forEach(expire);
    try {
      var pending = sessionStorage.getItem("callem:toast");
      if (pending) { sessionStorage.removeItem("callem:toast"); toast(pending); }
    } catch (_) {}
    document.querySelectorAll("details[data-dismissible]").forEach(function (d) {
      try { if (localStorage.getItem("callem:" + d.dataset.dismissible) === "closed") d.open = false; } catch (_) {}
    });
  });
})();

/* calls (issue 19) */
// On a phone the calls filters fold behind their "Filters" button (CSS shows it only there);
// without this script they simply stay open.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-filters-toggle]").forEach(function (button) {
      var form = button.closest("form");
      if (!form) return;
      form.classList.add("collapsible");
      button.addEventListener("click", function () {
        var open = form.classList.toggle("open");
        button.setAttribute("aria-expanded", open ? "true" : "false");
      });
      // The button says how many of the folded filters are set, as they change.
      form.addEventListener("change", function () {
        var set = 0;
        form.querySelectorAll(".filter-fields select, .filter-fields input").forEach(function (f) {
          if (f.value) set += 1;
        });
        var badge = button.querySelector(".badge");
        var hint = button.querySelector(".visually-hidden");
        if (!badge) {
          badge = document.createElement("span");
          badge.className = "badge badge-muted";
          hint = document.createElement("span");
          hint.className = "visually-hidden";
          hint.textContent = " set";
          button.append(" ", badge, hint);
        }
        badge.textContent = String(set);
        badge.hidden = hint.hidden = set === 0;
      });
    });
  });
})();

// keys (issue 19): a change that reloads the page (Save changes or Revoke on a key's page,
// Stop now, Extend) leaves the focus on the new page's heading, where its toast is about, not
// on <body>.
(function () {
  "use strict";
  var KEY = "callem:focus-heading";
  document.addEventListener("htmx:beforeOnLoad", function (e) {
    var xhr = e.detail && e.detail.xhr;
    if (!xhr || xhr.status < 200 || xhr.status >= 300 || !xhr.getResponseHeader("HX-Redirect")) return;
    try { sessionStorage.setItem(KEY, "1"); } catch (_) {}
  });
  document.addEventListener("DOMContentLoaded", function () {
    var pending = null;
    try { pending = sessionStorage.getItem(KEY); sessionStorage.removeItem(KEY); } catch (_) {}
    var heading = pending && document.querySelector("main h1");
    if (!heading) return;
    if (!heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
    heading.focus();
  });
})();


/* knowledge (issue 19) */
// A field's error message goes as soon as the field changes (typed into, picked, ticked):
// it spoke of the value that was sent, not of this one. Any form, any `.field.has-error`.
(function () {
  "use strict";
  function clearFieldError(e) {
    var t = e.target;
    if (!t || !t.closest || !t.matches("input, select, textarea")) return;
    var field = t.closest(".has-error");
    if (!field) return;
    var gone = [];
    field.querySelectorAll(".field-error").forEach(function (p) {
      if (p.id) gone.push(p.id);
      p.remove();
    });
    field.classList.remove("has-error");
    [field].concat(Array.prototype.slice.call(field.querySelectorAll("[aria-invalid]"))).forEach(function (el) {
      el.removeAttribute("aria-invalid");
      var said = (el.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (id) {
        return id && gone.indexOf(id) < 0;
      });
      if (said.length) el.setAttribute("aria-describedby", said.join(" "));
      else el.removeAttribute("aria-describedby");
    });
  }
  document.addEventListener("input", clearFieldError);
  document.addEventListener("change", clearFieldError);
})();
