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
});
