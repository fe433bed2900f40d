import { useParams } from "wouter";

export default function Datanet() {
  const { id } = useParams<{ id: string }>();
  return (
    <section>
      <h1>Datanet {id}</h1>
    </section>
  );
}
