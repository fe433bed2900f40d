/** Placeholder: this page is being built on the Studio scaffold (studio/README.md, "Studio scaffold"). */
export default function Governance() {
  return (
    <section>
      <h1>Governance</h1>
      <p className="muted">This page is coming soon.</p>
    </section>
  );
}
