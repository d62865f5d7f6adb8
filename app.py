"""pix2pix studio — the Gradio app. (Placeholder until the app lands: run `python app.py` to see the status.)"""

if __name__ == "__main__":
    print("The app is being built; see README.md. The engine is usable: python -m pix2pix_demo --help")
