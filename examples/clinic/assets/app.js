// The clinic's only script, served from /assets/app.js (the Content-Security-
// Policy allows scripts from this origin only, and no inline script or handler).
// WebAuthn glue: the server sends JSON options (WebAuthn Level 3 form), the
// browser parses them, runs the ceremony, and posts `credential.toJSON()` back.
function csrfToken(){const m=document.querySelector('meta[name=csrf-token]');return m?m.content:'';}
async function postJson(url, body){
  const r=await fetch(url,{method:'POST',headers:{'content-type':'application/json','x-csrf-token':csrfToken()},body:JSON.stringify(body||{})});
  let data={};try{data=await r.json();}catch(e){}
  if(!r.ok){throw new Error(data.error||('request failed: '+r.status));}
  return data;
}
function showError(e){const p=document.getElementById('passkey-error');if(p){p.textContent=e.message||String(e);p.hidden=false;}}
async function passkeyRegister(){
  try{
    const name=(document.getElementById('passkey-name')||{}).value||'';
    const password=(document.getElementById('passkey-password')||{}).value||'';
    const options=await postJson('/passkeys/register/begin',{password});
    const publicKey=PublicKeyCredential.parseCreationOptionsFromJSON(options);
    const credential=await navigator.credentials.create({publicKey});
    const done=await postJson('/passkeys/register/finish',{name,credential:credential.toJSON()});
    location.href=done.redirect;
  }catch(e){showError(e);}
}
async function passkeySignIn(){
  try{
    const options=JSON.parse(document.getElementById('passkey-options').dataset.options);
    const publicKey=PublicKeyCredential.parseRequestOptionsFromJSON(options);
    const credential=await navigator.credentials.get({publicKey});
    const trust=document.getElementById('trust-passkey');
    const done=await postJson('/passkeys/sign-in',{credential:credential.toJSON(),trust_browser:!!(trust&&trust.checked)});
    location.href=done.redirect;
  }catch(e){showError(e);}
}
// Passkey-first sign-in. Where the browser can, an autofill request
// (mediation "conditional") starts with the sign-in page, so that the email
// field offers the user's passkeys; the button aborts it and asks directly.
// Both post the answer to the same endpoint.
let conditionalRequest=null;
async function passkeyFirst(conditional){
  const begun=await postJson('/signin/passkey/begin',{});
  const request={publicKey:PublicKeyCredential.parseRequestOptionsFromJSON(begun.options)};
  if(conditional){conditionalRequest=new AbortController();request.mediation='conditional';request.signal=conditionalRequest.signal;}
  const credential=await navigator.credentials.get(request);
  if(!credential){return;}
  const r=await fetch('/signin/passkey/finish',{method:'POST',headers:{'content-type':'application/json','x-csrf-token':csrfToken()},body:JSON.stringify({ceremony:begun.ceremony,credential:credential.toJSON()})});
  let data={};try{data=await r.json();}catch(e){}
  await sendSignals(data.signals||[]);
  if(!r.ok){throw new Error(data.error||('request failed: '+r.status));}
  location.href=data.redirect;
}
async function passkeySignInFirst(){
  if(conditionalRequest){conditionalRequest.abort();conditionalRequest=null;}
  try{await passkeyFirst(false);}catch(e){showError(e);}
}
async function startConditionalUi(){
  const P=window.PublicKeyCredential;
  if(!P||typeof P.isConditionalMediationAvailable!=='function'||typeof P.parseRequestOptionsFromJSON!=='function'){return;}
  try{
    if(!(await P.isConditionalMediationAvailable())){return;}
    await passkeyFirst(true);
  }catch(e){if(!e||e.name!=='AbortError'){showError(e);}}
}
// The WebAuthn Signal API: the server says which passkeys it accepts (or that
// one is unknown), and the password manager hides the others. Each call is
// made only if this browser has it; a failure is nobody's business but its own.
async function sendSignals(signals){
  const P=window.PublicKeyCredential;
  for(const s of signals){
    const call=P&&P[s.method];
    if(typeof call==='function'){try{await call.call(P,s.options);}catch(e){}}
  }
}
function pageSignals(){
  const e=document.getElementById('passkey-signals');
  if(!e){return;}
  let signals=[];try{signals=JSON.parse(e.dataset.signals);}catch(x){}
  sendSignals(signals);
}
async function copyCodes(){
  const text=document.getElementById('codes-text').textContent;
  try{await navigator.clipboard.writeText(text);document.getElementById('copied').hidden=false;}catch(e){showError(e);}
}

// Buttons are bound here, by id: pages carry no inline handlers.
document.addEventListener('DOMContentLoaded',()=>{
  const bind=(id,handler)=>{const e=document.getElementById(id);if(e){e.addEventListener('click',handler);}};
  bind('setup-passkey',passkeyRegister);
  bind('use-passkey',passkeySignIn);
  bind('copy-codes',copyCodes);
  bind('signin-passkey',passkeySignInFirst);
  if(document.getElementById('signin-passkey')){startConditionalUi();}
  pageSignals();
});
