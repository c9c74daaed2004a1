// Applies the remembered theme before the page paints (no flash of the wrong theme).
(function () {
  var saved = null;
  try { saved = localStorage.getItem('ccm-theme'); } catch (e) { /* storage off */ }
  var dark = saved ? saved === 'dark' : window.matchMedia('(prefers-color-scheme: dark)').matches;
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
})();
