// Submits the vendor step's form, so that signing in takes one tap; the page works without it.
document.getElementById("vendor-step").submit();
