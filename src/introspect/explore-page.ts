// The explorer as one self-contained HTML page: data inlined as JSON, the picture as a data: URL,
// inline CSS and JS, no network. Opening it with `#selftest` makes the page click through itself and
// write PASS/FAIL (plus any console errors) into <pre id="result">, which a headless browser's
// --dump-dom can read.
import type { ExplorerData } from "./explore.js";

const CSS = `
body{font:14px system-ui,sans-serif;margin:16px;color:#222;max-width:1100px}
h1{font-size:18px;margin:0 0 8px}
.row{display:flex;gap:20px;flex-wrap:wrap;align-items:flex-start}
.stack{position:relative;width:336px;height:336px;border:1px solid #999}
.stack canvas{position:absolute;left:0;top:0;width:336px;height:336px}
#overlay{image-rendering:auto}
.controls label{display:block;margin:6px 0}
.tokens{margin:10px 0;line-height:2}
.tok{display:inline-block;padding:0 3px;margin:1px;border-radius:3px;white-space:pre;font-family:monospace}
.seg-system{color:#999}.seg-text{color:#555}.seg-image{background:#dde;color:#334}
button.tok{border:1px solid #88a;background:#f4f4ff;cursor:pointer}
button.tok.sel{background:#335;color:#fff}
table{border-collapse:collapse;font-family:monospace}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}
.bar{display:flex;height:14px;width:336px;border:1px solid #999}.bar div{height:100%}
.legend span{display:inline-block;margin-right:10px}.sw{display:inline-block;width:10px;height:10px;margin-right:3px}
#result{background:#eee;padding:6px}
`;

// Page script. Plain ES2017, no template literals (this file embeds it in one).
const JS = String.raw`
(function(){
var errors=[];
window.addEventListener("error",function(e){errors.push("error: "+e.message);});
var origError=console.error;
console.error=function(){errors.push("console.error: "+Array.prototype.join.call(arguments," "));origError.apply(console,arguments);};
var D=JSON.parse(document.getElementById("data").textContent);
var G=D.grid,N=G*G;
var VIRIDIS=[[68,1,84],[71,44,122],[59,81,139],[44,113,142],[33,144,141],[39,173,129],[92,200,99],[170,220,50],[253,231,37]];
var SEGC={system:"#bbb",image:"#e8a33d",text:"#4a7fc1",answer:"#6b6"};
function cmap(t){t=Math.max(0,Math.min(1,t||0))*8;var i=Math.min(7,Math.floor(t)),f=t-i,a=VIRIDIS[i],b=VIRIDIS[i+1];
 return [a[0]+f*(b[0]-a[0]),a[1]+f*(b[1]-a[1]),a[2]+f*(b[2]-a[2])];}
function f32(s){var bin=atob(s),u=new Uint8Array(bin.length);for(var i=0;i<bin.length;i++)u[i]=bin.charCodeAt(i);return new Float32Array(u.buffer);}
var cache={};function arr(key,s){return cache[key]||(cache[key]=f32(s));}
var $=function(id){return document.getElementById(id);};
var state={view:"token",step:0,layer:"mean",head:"mean",alpha:0.6,cls:D.cls.length?D.cls[D.cls.length-1].layer:null};
function headMap(a,heads,head){var m=new Float32Array(N);
 if(head==="mean"){for(var h=0;h<heads;h++)for(var j=0;j<N;j++)m[j]+=a[h*N+j]/heads;}else{m.set(a.subarray(head*N,(head+1)*N));}return m;}
function currentMap(){
 if(state.view==="cls"){var c=D.cls.filter(function(x){return x.layer===state.cls;})[0];
  var a=arr("cls"+c.layer,c.data);return headMap(a,a.length/N,state.head);}
 var li=state.layer==="mean"?D.layers.map(function(_,i){return i;}):[D.layers.indexOf(Number(state.layer))];
 var m=new Float32Array(N);
 li.forEach(function(i){var a=arr("a"+state.step+"_"+i,D.att[state.step][i]);var hm=headMap(a,D.heads,state.head);for(var j=0;j<N;j++)m[j]+=hm[j]/li.length;});
 return m;
}
function draw(){
 var m=currentMap(),lo=Infinity,hi=-Infinity;for(var j=0;j<N;j++){lo=Math.min(lo,m[j]);hi=Math.max(hi,m[j]);}
 if(!(hi>lo))hi=lo+1e-12;
 var small=document.createElement("canvas");small.width=G;small.height=G;var sc=small.getContext("2d"),id=sc.createImageData(G,G);
 for(var k=0;k<N;k++){var c=cmap((m[k]-lo)/(hi-lo));id.data[4*k]=c[0];id.data[4*k+1]=c[1];id.data[4*k+2]=c[2];id.data[4*k+3]=255;}
 sc.putImageData(id,0,0);
 var ov=$("overlay"),ctx=ov.getContext("2d");ctx.clearRect(0,0,ov.width,ov.height);
 ctx.imageSmoothingEnabled=true;ctx.globalAlpha=state.alpha;ctx.drawImage(small,0,0,ov.width,ov.height);ctx.globalAlpha=1;
 $("range").textContent="scale "+lo.toExponential(2)+" .. "+hi.toExponential(2);
 drawBar();drawTopk();
 document.querySelectorAll("button.tok").forEach(function(b){b.classList.toggle("sel",state.view==="token"&&Number(b.dataset.step)===state.step);});
 $("what").textContent=state.view==="cls"?("CLIP CLS attention, vision layer "+state.cls):
  ("token "+state.step+" "+JSON.stringify(D.tokens[state.step]?D.tokens[state.step].text:"")+", layer "+state.layer+", head "+state.head);
}
function drawBar(){
 var bar=$("bar");bar.innerHTML="";if(state.view!=="token"||!D.frac.length)return;
 var li=state.layer==="mean"?D.layers.map(function(_,i){return i;}):[D.layers.indexOf(Number(state.layer))];
 var f=[0,0,0,0];li.forEach(function(i){D.frac[state.step][i].forEach(function(v,k){f[k]+=v/li.length;});});
 ["system","image","text","answer"].forEach(function(s,k){var d=document.createElement("div");d.style.width=(100*f[k])+"%";
  d.style.background=SEGC[s];d.title=s+" "+f[k].toFixed(3);bar.appendChild(d);});
 $("fracs").textContent="system "+f[0].toFixed(3)+"  image "+f[1].toFixed(3)+"  question "+f[2].toFixed(3)+"  answer "+f[3].toFixed(3)+" (mean over heads)";
}
function drawTopk(){
 var t=$("topk");t.innerHTML="";if(!D.topk||!D.topk.steps[state.step])return;
 var cols=D.topk.columns,st=D.topk.steps[state.step],head="<tr><th>#</th>";cols.forEach(function(c){head+="<th>"+esc(c)+"</th>";});t.innerHTML=head+"</tr>";
 var k=Math.max.apply(null,st.map(function(c){return c.length;}));
 for(var i=0;i<k;i++){var tr=document.createElement("tr");
  tr.innerHTML="<td>"+(i+1)+"</td>"+st.map(function(c){var e=c[i];
   return "<td>"+(e?esc(JSON.stringify(e.token))+" "+e.p.toFixed(3):"")+"</td>";}).join("");t.appendChild(tr);}
}
function esc(s){return String(s).replace(/[&<>]/g,function(c){return {"&":"&amp;","<":"&lt;",">":"&gt;"}[c];});}
function build(){
 $("q").textContent=D.question;$("a").textContent=D.answer;$("cf").textContent=D.cf?("counterfactual: "+D.cf):"";
 var p=$("prompt");D.prompt.forEach(function(t){var s=document.createElement("span");s.className="tok seg-"+t.segment;s.textContent=t.text;p.appendChild(s);});
 var ans=$("answer");D.tokens.forEach(function(t,i){var b=document.createElement("button");b.className="tok";b.dataset.step=i;b.textContent=t.text;
  b.title="step "+i+" id "+t.id;
  b.onclick=function(){
   state.view="token";state.step=i;$("view").value="token";draw();};ans.appendChild(b);});
 var ls=$("layer");D.layers.forEach(function(l){ls.add(new Option("layer "+l,String(l)));});
 var hs=$("head");for(var h=0;h<D.heads;h++)hs.add(new Option("head "+h,String(h)));
 var cs=$("clslayer");D.cls.forEach(function(c){cs.add(new Option("vision layer "+c.layer,String(c.layer)));});cs.value=String(state.cls);
 ls.onchange=function(){state.layer=ls.value;draw();};
 hs.onchange=function(){state.head=hs.value==="mean"?"mean":Number(hs.value);draw();};
 cs.onchange=function(){state.cls=Number(cs.value);draw();};
 $("view").onchange=function(){state.view=$("view").value;if(state.view==="cls"&&!D.cls.length)state.view="token";draw();};
 $("alpha").oninput=function(){state.alpha=Number($("alpha").value);draw();};
 if(!D.cls.length)$("view").options[1].disabled=true;
 if(D.sweep){$("sweep").src=D.sweep.image;$("sweepbox").style.display="block";}
}
function hash(){var d=$("overlay").getContext("2d").getImageData(0,0,336,336).data,h=0;for(var i=0;i<d.length;i+=7)h=(h*31+d[i])|0;return h;}
function selftest(){
 var out=[],ok=true;
 var btns=document.querySelectorAll("button.tok");
 if(btns.length<1){ok=false;out.push("no answer tokens");}
 else{
  btns[0].click();var h0=hash();var changed=false;
  for(var i=1;i<btns.length&&!changed;i++){btns[i].click();changed=hash()!==h0;if(changed)out.push("clicking token "+i+" changed the overlay");}
  if(!changed){ok=false;out.push("clicking tokens did not change the overlay");}
  var sel=document.querySelectorAll("button.tok.sel").length;if(sel!==1){ok=false;out.push("selected tokens: "+sel);}
  $("head").value="0";$("head").onchange();var h1=hash();$("head").value="mean";$("head").onchange();out.push("head 0 vs mean differ: "+(h1!==hash()));
  if(D.cls.length){$("view").value="cls";$("view").onchange();out.push("cls view drawn: "+(hash()!==0));$("view").value="token";$("view").onchange();}
  if(D.topk&&!$("topk").rows.length){ok=false;out.push("top-k table empty");}
 }
 if(errors.length)ok=false;
 $("result").textContent=(ok?"PASS":"FAIL")+"\n"+out.join("\n")+(errors.length?"\nERRORS:\n"+errors.join("\n"):"\nno console errors");
 $("result").style.display="block";
}
// the self-test waits for the picture AND the window's load event (every later script has run), then
// one more task, so errors logged anywhere on the page are seen
var base=$("base").getContext("2d"),img=new Image(),ready=0;
function maybeTest(){if(++ready===2&&location.hash==="#selftest")setTimeout(selftest,50);}
window.addEventListener("load",maybeTest);
img.onload=function(){base.drawImage(img,0,0,336,336);maybeTest();};
img.onerror=function(){errors.push("image failed to load");maybeTest();};
try{build();draw();}catch(e){errors.push("init: "+e.message);}
img.src=D.image;
})();
`;

/** JSON safe inside <script>: no "</script" or "<!--" can appear. */
function scriptJson(x: unknown): string {
  return JSON.stringify(x)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

export function explorerHtml(data: ExplorerData): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>causalmm explorer: ${escapeHtml(data.question)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<style>${CSS}</style></head><body>
<h1>causalmm attention explorer</h1>
<div><b>Q:</b> <span id="q"></span><br><b>A:</b> <span id="a"></span> <i id="cf"></i></div>
<div class="tokens">prompt: <span id="prompt"></span></div>
<div class="tokens">answer (click a token): <span id="answer"></span></div>
<div class="row">
 <div><div class="stack"><canvas id="base" width="336" height="336"></canvas><canvas id="overlay" width="336" height="336"></canvas></div>
  <div id="what"></div><div id="range"></div>
  <div class="bar" id="bar"></div><div id="fracs"></div>
  <div class="legend"><span><i class="sw" style="background:#bbb"></i>system</span><span><i class="sw"
    style="background:#e8a33d"></i>image</span><span><i class="sw" style="background:#4a7fc1"></i>question</span><span><i class="sw"
    style="background:#6b6"></i>answer</span></div>
 </div>
 <div class="controls">
  <label>view <select id="view"><option value="token">token attention over the image</option><option value="cls">CLIP CLS attention</option></select></label>
  <label>text layer <select id="layer"><option value="mean">mean over layers</option></select></label>
  <label>head <select id="head"><option value="mean">mean over heads</option></select></label>
  <label>CLIP layer <select id="clslayer"></select></label>
  <label>overlay opacity <input id="alpha" type="range" min="0" max="1" step="0.05" value="0.6"></label>
  <h3>next-token top-k at this step</h3><table id="topk"></table>
 </div>
</div>
<div id="sweepbox" style="display:none"><h3>causal-effect sweep</h3><img id="sweep" alt="sweep heatmap"></div>
<pre id="result" style="display:none"></pre>
<script type="application/json" id="data">${scriptJson(data)}</script>
<script>${JS}</script>
</body></html>
`;
}
