import './zod-jitless';
import { mount } from 'svelte';
import App from './App.svelte';
import './styles.css';
import './components.css';

mount(App, { target: document.getElementById('app')! });
