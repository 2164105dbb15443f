// EchoFace console: the live picture asks again while the page is shown; nothing else needs script (every form works without it).
for (const img of document.querySelectorAll("img[data-refresh]")) {
  const every = Number(img.dataset.refresh) || 1000;
  const base = img.src.split("?")[0];
  const next = () => { if (document.visibilityState === "visible") img.src = `${base}?t=${Date.now()}`; };
  img.addEventListener("load", () => setTimeout(next, every));
  img.addEventListener("error", () => setTimeout(next, every * 2));
  // the first answer may have come (a 503 before the camera's first frame) before this deferred script ran
  if (img.complete) setTimeout(next, img.naturalWidth > 0 ? every : every * 2);
}
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState !== "visible") return;
  for (const img of document.querySelectorAll("img[data-refresh]")) img.src = `${img.src.split("?")[0]}?t=${Date.now()}`;
});
