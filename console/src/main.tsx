// The console's entry: the stylesheet and the page.
import './style.css';
import { render } from 'preact';
import { App } from './app.js';
import { language } from './i18n/index.js';

document.documentElement.lang = language();
const root = document.getElementById('app');
if (root) render(<App />, root);
