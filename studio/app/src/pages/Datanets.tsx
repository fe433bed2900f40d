export default function Datanets() {
  return (
    <section>
      <h1>Datanets</h1>
    </section>
  );
}
