//! `GET /api/v1/docs`: a self-contained page that renders the document, without
//! any CDN (the server may have no internet, and a CDN script would be code we do
//! not ship).

use axum::response::{Html, IntoResponse};

use crate::api::contract::{self, Contract};

/// `GET /api/v1/docs`.
pub async fn docs_page() -> impl IntoResponse {
    Html(DOCS_PAGE)
}

/// What `GET /api/v1/docs` answers.
pub fn docs_page_contract() -> Contract {
    Contract::new().ok_as(
        200,
        "A page that renders this document",
        "text/html",
        Some(contract::text()),
    )
}

const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ccm API</title>
<style>
body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}
h2{margin-top:1.5em;border-bottom:1px solid #ddd}
.op{margin:.4em 0;display:flex;gap:.8em;align-items:baseline}
.m{font-family:monospace;font-weight:bold;width:4.5em}
.p{font-family:monospace}
.r{margin-left:auto;color:#666;font-size:.9em}
@media (prefers-color-scheme: dark){body{background:#111;color:#ddd}.r{color:#999}}
</style></head>
<body><h1>ccm API</h1><p id="about">Loading <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>…</p><div id="ops"></div>
<script>
fetch('/api/v1/openapi.json',{credentials:'same-origin'}).then(r=>{if(!r.ok)throw new Error('HTTP '+r.status);return r.json()}).then(doc=>{
  document.getElementById('about').textContent=doc.info.description;
  const groups={};
  for(const [path,item] of Object.entries(doc.paths)){
    for(const [method,op] of Object.entries(item)){
      (groups[op.tags[0]]=groups[op.tags[0]]||[]).push([method,path,op]);
    }
  }
  const root=document.getElementById('ops');
  for(const [tag,ops] of Object.entries(groups)){
    const h=document.createElement('h2');h.textContent=tag;root.appendChild(h);
    for(const [method,path,op] of ops){
      const row=document.createElement('div');row.className='op';
      for(const [cls,text] of [['m',method.toUpperCase()],['p',path],['s',op.summary],['r','role: '+op['x-min-role']]]){
        const span=document.createElement('span');span.className=cls;span.textContent=text;row.appendChild(span);
      }
      root.appendChild(row);
    }
  }
}).catch(e=>{document.getElementById('about').textContent='Could not load the document: '+e.message+' (log in first).'});
</script></body></html>"#;
