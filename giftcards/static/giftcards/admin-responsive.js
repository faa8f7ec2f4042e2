/* The staff menu's toggle on phones. Loaded in <head> without defer so html.gc-js is set
   before the first paint and the menu does not flash open; without this script the menu
   simply stays expanded. */
"use strict";
document.documentElement.classList.add("gc-js");
document.addEventListener("DOMContentLoaded", () => {
    const toggle = document.querySelector(".gc-nav-toggle");
    const menu = toggle && document.getElementById(toggle.getAttribute("aria-controls"));
    if (!menu) {
        return;
    }
    const setOpen = (open) => {
        toggle.setAttribute("aria-expanded", String(open));
        menu.classList.toggle("gc-nav--open", open);
    };
    toggle.addEventListener("click", () => setOpen(toggle.getAttribute("aria-expanded") !== "true"));
    document.addEventListener("keydown", (event) => {
        if (event.key === "Escape" && toggle.getAttribute("aria-expanded") === "true") {
            setOpen(false);
            toggle.focus();
        }
    });
});
