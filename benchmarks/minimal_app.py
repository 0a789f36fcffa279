"""The reference page for benchmarks/bench_browser.py: one slider, one heatmap."""
import numpy as np
import plotly.graph_objects as go
import streamlit as st

g = st.slider("Recurrent gain", 0.0, 4.0, 0.9, 0.01, key="recurrent_gain")
z = np.sin(np.arange(200)[None, :] * g / 10 + np.arange(32)[:, None]).astype(np.float32)
st.plotly_chart(go.Figure(go.Heatmap(z=z)), theme=None, key="hm")
